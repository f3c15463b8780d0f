// RUN: kir-opt %s -p 'kir-block-reduction{block=64}' | filecheck %s
// RUN: kir-opt %s -p 'kir-block-reduction{block=64},kir-block-reduction{block=32}' | filecheck %s
// RUN: kir-opt %s -p kir-block-reduction | filecheck %s --check-prefix=DEFAULT

// kir-block-reduction: a loop that carries reduction states is split into a loop over blocks
// (step = block) and a loop inside the block, from a fresh state, whose result is folded into
// the running state with kirl.acc_combine. Split loops are marked {kirl.block}, so a second
// run of the pass leaves them alone (second RUN line: same output as one run).

/// The reduction loop over j is blocked by 64; the last block ends at min(block + 64, reduced).
// CHECK-LABEL: kirl.func @gaussian {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]] step %[[C1]] {
// CHECK-NEXT:      %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[INIT:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      %[[C64:.*]] = arith.constant 64 : index
// CHECK-NEXT:      %[[ACC:.*]] = scf.for %[[BLOCK:.*]] = %[[C0]] to %[[REDUCED]] step %[[C64]] iter_args(%[[RUNNING_ACC:.*]] = %[[INIT]]) -> (!kirl.acc<sum, 1xf32>) {
// CHECK-NEXT:        %[[STOP:.*]] = arith.addi %[[BLOCK]], %[[C64]] : index
// CHECK-NEXT:        %[[BLOCK_END:.*]] = arith.minui %[[STOP]], %[[REDUCED]] : index
// CHECK-NEXT:        %[[FRESH:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:        %[[PART:.*]] = scf.for %[[J:.*]] = %[[BLOCK]] to %[[BLOCK_END]] step %[[C1]] iter_args(%[[A:.*]] = %[[FRESH]]) -> (!kirl.acc<sum, 1xf32>) {
// CHECK-NEXT:          %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<3xf32, j>
// CHECK-NEXT:          %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:          %[[N:.*]] = kir.neg %[[D]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:          %[[K:.*]] = kir.exp %[[N]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:          %[[NEXT:.*]] = kirl.acc_update %[[A]], %[[K]] at %[[J]] : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
// CHECK-NEXT:          scf.yield %[[NEXT]] : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:        } {kirl.block = 64 : index}
// CHECK-NEXT:        %[[COMBINED:.*]] = kirl.acc_combine %[[RUNNING_ACC]], %[[PART]] : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:        scf.yield %[[COMBINED]] : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      } {kirl.block = 64 : index}
// CHECK-NEXT:      %[[R:.*]] = kirl.acc_finalize %[[ACC]] : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
// CHECK-NEXT:      kirl.store %[[R]], 0[%[[I]]] : !kir.vec<1xf32, i>
// CHECK-NEXT:    }
// CHECK-NEXT:    kirl.return
// CHECK-NEXT:  }
// DEFAULT-LABEL: kirl.func @gaussian {
// DEFAULT:         %[[C256:.*]] = arith.constant 256 : index
// DEFAULT-NEXT:    scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C256]] iter_args
// DEFAULT:         } {kirl.block = 256 : index}
// DEFAULT-NEXT:    kirl.acc_combine
// DEFAULT:         } {kirl.block = 256 : index}
kirl.func @gaussian {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<3xf32, i>
    %init = kirl.acc_init : !kirl.acc<sum, 1xf32>
    %acc = scf.for %j = %c0 to %reduced step %c1 iter_args(%a = %init) -> (!kirl.acc<sum, 1xf32>) {
      %y = kirl.load 1[%j] : !kir.vec<3xf32, j>
      %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
      %n = kir.neg %d : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
      %k = kir.exp %n : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
      %next = kirl.acc_update %a, %k at %j : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
      scf.yield %next : !kirl.acc<sum, 1xf32>
    }
    %r = kirl.acc_finalize %acc : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
    kirl.store %r, 0[%i] : !kir.vec<1xf32, i>
  }
  kirl.return
}

/// Two states carried by one loop: one fresh state and one acc_combine per state.
// CHECK-LABEL: kirl.func @two_states {
// CHECK:         %[[INIT0:.*]] = kirl.acc_init : !kirl.acc<min, 1xf64>
// CHECK-NEXT:    %[[INIT1:.*]] = kirl.acc_init : !kirl.acc<argmin, 1xf64>
// CHECK-NEXT:    %[[C64:.*]] = arith.constant 64 : index
// CHECK-NEXT:    %[[MIN:.*]], %[[ARG:.*]] = scf.for %[[BLOCK:.*]] = %{{.*}} to %[[REDUCED:.*]] step %[[C64]] iter_args(%[[R0:.*]] = %[[INIT0]], %[[R1:.*]] = %[[INIT1]]) -> (!kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>) {
// CHECK-NEXT:      %[[STOP:.*]] = arith.addi %[[BLOCK]], %[[C64]] : index
// CHECK-NEXT:      %[[BLOCK_END:.*]] = arith.minui %[[STOP]], %[[REDUCED]] : index
// CHECK-NEXT:      %[[F0:.*]] = kirl.acc_init : !kirl.acc<min, 1xf64>
// CHECK-NEXT:      %[[F1:.*]] = kirl.acc_init : !kirl.acc<argmin, 1xf64>
// CHECK-NEXT:      %[[P0:.*]], %[[P1:.*]] = scf.for %{{.*}} = %[[BLOCK]] to %[[BLOCK_END]] step %{{.*}} iter_args(%{{.*}} = %[[F0]], %{{.*}} = %[[F1]])
// CHECK:           } {kirl.block = 64 : index}
// CHECK-NEXT:      %[[CMB0:.*]] = kirl.acc_combine %[[R0]], %[[P0]] : !kirl.acc<min, 1xf64>
// CHECK-NEXT:      %[[CMB1:.*]] = kirl.acc_combine %[[R1]], %[[P1]] : !kirl.acc<argmin, 1xf64>
// CHECK-NEXT:      scf.yield %[[CMB0]], %[[CMB1]] : !kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>
// CHECK-NEXT:    } {kirl.block = 64 : index}
// CHECK-NEXT:    kirl.acc_finalize %[[MIN]]
// CHECK:         kirl.acc_finalize %[[ARG]]
kirl.func @two_states {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<2xf64, i>
    %min0 = kirl.acc_init : !kirl.acc<min, 1xf64>
    %arg0 = kirl.acc_init : !kirl.acc<argmin, 1xf64>
    %min, %arg = scf.for %j = %c0 to %reduced step %c1 iter_args(%m = %min0, %g = %arg0) -> (!kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>) {
      %y = kirl.load 1[%j] : !kir.vec<2xf64, j>
      %d = kir.sqdist %x, %y : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<1xf64, ij>
      %m1 = kirl.acc_update %m, %d at %j : !kirl.acc<min, 1xf64>, !kir.vec<1xf64, ij>
      %g1 = kirl.acc_update %g, %d at %j : !kirl.acc<argmin, 1xf64>, !kir.vec<1xf64, ij>
      scf.yield %m1, %g1 : !kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>
    }
    %rmin = kirl.acc_finalize %min : !kirl.acc<min, 1xf64> -> !kir.vec<1xf64, i>
    kirl.store %rmin, 0[%i] : !kir.vec<1xf64, i>
    %rarg = kirl.acc_finalize %arg : !kirl.acc<argmin, 1xf64> -> !kir.vec<1xi64, i>
    kirl.store %rarg, 1[%i] : !kir.vec<1xi64, i>
  }
  kirl.return
}

/// Loops that carry no reduction state (none at all, or an index) are left as they are.
// CHECK-LABEL: kirl.func @no_state {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]] step %[[C1]] {
// CHECK-NEXT:      %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<1xf32, i>
// CHECK-NEXT:      kirl.store %[[X]], 0[%[[I]]] : !kir.vec<1xf32, i>
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[N:.*]] = scf.for %[[J:.*]] = %[[C0]] to %[[REDUCED]] step %[[C1]] iter_args(%[[K:.*]] = %[[C0]]) -> (index) {
// CHECK-NEXT:      %[[K1:.*]] = arith.addi %[[K]], %[[C1]] : index
// CHECK-NEXT:      scf.yield %[[K1]] : index
// CHECK-NEXT:    }
// CHECK-NEXT:    kirl.return
// CHECK-NEXT:  }
kirl.func @no_state {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<1xf32, i>
    kirl.store %x, 0[%i] : !kir.vec<1xf32, i>
  }
  %n = scf.for %j = %c0 to %reduced step %c1 iter_args(%k = %c0) -> (index) {
    %k1 = arith.addi %k, %c1 : index
    scf.yield %k1 : index
  }
  kirl.return
}
