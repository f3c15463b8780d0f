// RUN: kir-opt %s | kir-opt | filecheck %s
// RUN: kir-opt %s --print-op-generic | kir-opt | filecheck %s

// Round trip of the loop-level `kirl` dialect, written by hand: a function over the three index
// arguments, scf.for loops, loads with and without a row, stores, and the reduction-state ops.

/// The Gaussian kernel scaled by a parameter, with a block of the reduced index combined in.
// CHECK-LABEL: kirl.func @gaussian {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:    %[[S:.*]] = kirl.load 2 : !kir.vec<1xf32, p>
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]] step %[[C1]] {
// CHECK-NEXT:      %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[INIT:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      %[[ACC:.*]] = scf.for %[[J:.*]] = %[[C0]] to %[[REDUCED]] step %[[C1]] iter_args(%[[A:.*]] = %[[INIT]]) -> (!kirl.acc<sum, 1xf32>) {
// CHECK-NEXT:        %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<3xf32, j>
// CHECK-NEXT:        %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[M:.*]] = kir.mul %[[D]], %[[S]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[N:.*]] = kir.neg %[[M]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[K:.*]] = kir.exp %[[N]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[NEXT:.*]] = kirl.acc_update %[[A]], %[[K]] at %[[J]] : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
// CHECK-NEXT:        scf.yield %[[NEXT]] : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[OTHER:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      %[[BOTH:.*]] = kirl.acc_combine %[[ACC]], %[[OTHER]] : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      %[[R:.*]] = kirl.acc_finalize %[[BOTH]] : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
// CHECK-NEXT:      kirl.store %[[R]], 0[%[[I]]] : !kir.vec<1xf32, i>
// CHECK-NEXT:    }
// CHECK-NEXT:    kirl.return
// CHECK-NEXT:  }
kirl.func @gaussian {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %s = kirl.load 2 : !kir.vec<1xf32, p>
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<3xf32, i>
    %init = kirl.acc_init : !kirl.acc<sum, 1xf32>
    %acc = scf.for %j = %c0 to %reduced step %c1 iter_args(%a = %init) -> (!kirl.acc<sum, 1xf32>) {
      %y = kirl.load 1[%j] : !kir.vec<3xf32, j>
      %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
      %m = kir.mul %d, %s : !kir.vec<1xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, ij>
      %n = kir.neg %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
      %k = kir.exp %n : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
      %next = kirl.acc_update %a, %k at %j : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
      scf.yield %next : !kirl.acc<sum, 1xf32>
    }
    %other = kirl.acc_init : !kirl.acc<sum, 1xf32>
    %both = kirl.acc_combine %acc, %other : !kirl.acc<sum, 1xf32>
    %r = kirl.acc_finalize %both : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
    kirl.store %r, 0[%i] : !kir.vec<1xf32, i>
  }
  kirl.return
}

/// Two reduction states carried by one loop over i (output rows over j); argmin's state is
/// kept in the operand's element type and finalized to i64 indices.
// CHECK-LABEL: kirl.func @argmin_over_i {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:    scf.for %[[J:.*]] = %[[BEGIN]] to %[[END]] step %[[C1]] {
// CHECK-NEXT:      %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<2xf64, j>
// CHECK-NEXT:      %[[MIN0:.*]] = kirl.acc_init : !kirl.acc<min, 1xf64>
// CHECK-NEXT:      %[[ARG0:.*]] = kirl.acc_init : !kirl.acc<argmin, 1xf64>
// CHECK-NEXT:      %[[MIN:.*]], %[[ARG:.*]] = scf.for %[[I:.*]] = %[[C0]] to %[[REDUCED]] step %[[C1]] iter_args(%[[M:.*]] = %[[MIN0]], %[[G:.*]] = %[[ARG0]]) -> (!kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>) {
// CHECK-NEXT:        %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<2xf64, i>
// CHECK-NEXT:        %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<1xf64, ij>
// CHECK-NEXT:        %[[M1:.*]] = kirl.acc_update %[[M]], %[[D]] at %[[I]] : !kirl.acc<min, 1xf64>, !kir.vec<1xf64, ij>
// CHECK-NEXT:        %[[G1:.*]] = kirl.acc_update %[[G]], %[[D]] at %[[I]] : !kirl.acc<argmin, 1xf64>, !kir.vec<1xf64, ij>
// CHECK-NEXT:        scf.yield %[[M1]], %[[G1]] : !kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[RMIN:.*]] = kirl.acc_finalize %[[MIN]] : !kirl.acc<min, 1xf64> -> !kir.vec<1xf64, j>
// CHECK-NEXT:      kirl.store %[[RMIN]], 0[%[[J]]] : !kir.vec<1xf64, j>
// CHECK-NEXT:      %[[RARG:.*]] = kirl.acc_finalize %[[ARG]] : !kirl.acc<argmin, 1xf64> -> !kir.vec<1xi64, j>
// CHECK-NEXT:      kirl.store %[[RARG]], 1[%[[J]]] : !kir.vec<1xi64, j>
// CHECK-NEXT:    }
// CHECK-NEXT:    kirl.return
// CHECK-NEXT:  }
kirl.func @argmin_over_i {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %j = %begin to %end step %c1 {
    %y = kirl.load 1[%j] : !kir.vec<2xf64, j>
    %min0 = kirl.acc_init : !kirl.acc<min, 1xf64>
    %arg0 = kirl.acc_init : !kirl.acc<argmin, 1xf64>
    %min, %arg = scf.for %i = %c0 to %reduced step %c1 iter_args(%m = %min0, %g = %arg0) -> (!kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>) {
      %x = kirl.load 0[%i] : !kir.vec<2xf64, i>
      %d = kir.sqdist %x, %y : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<1xf64, ij>
      %m1 = kirl.acc_update %m, %d at %i : !kirl.acc<min, 1xf64>, !kir.vec<1xf64, ij>
      %g1 = kirl.acc_update %g, %d at %i : !kirl.acc<argmin, 1xf64>, !kir.vec<1xf64, ij>
      scf.yield %m1, %g1 : !kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>
    }
    %rmin = kirl.acc_finalize %min : !kirl.acc<min, 1xf64> -> !kir.vec<1xf64, j>
    kirl.store %rmin, 0[%j] : !kir.vec<1xf64, j>
    %rarg = kirl.acc_finalize %arg : !kirl.acc<argmin, 1xf64> -> !kir.vec<1xi64, j>
    kirl.store %rarg, 1[%j] : !kir.vec<1xi64, j>
  }
  kirl.return
}

/// Schedule forms: a chunk of a wide row (entries %d .. %d + 7 of 256) and states held in
/// SIMD lanes, folded into one state.
// CHECK-LABEL: kirl.func @chunk_and_lanes {
// CHECK:         %[[X:.*]] = kirl.load 0[%[[I:.*]]] entries %[[D:.*]] of 256 : !kir.vec<8xf32, i>
// CHECK-NEXT:    %[[P:.*]] = kirl.load 2 entries %[[D]] of 16 : !kir.vec<8xf32, p>
// CHECK-NEXT:    %[[A:.*]] = kirl.acc_init : !kirl.acc<argkmin, 1xf32, k = 4, lanes = 16>
// CHECK-NEXT:    %{{.*}} = kirl.acc_reduce_lanes %[[A]] : !kirl.acc<argkmin, 1xf32, k = 4, lanes = 16> -> !kirl.acc<argkmin, 1xf32, k = 4>
kirl.func @chunk_and_lanes {
^bb0(%begin: index, %end: index, %reduced: index):
  %x = kirl.load 0[%begin] entries %end of 256 : !kir.vec<8xf32, i>
  %p = kirl.load 2 entries %end of 16 : !kir.vec<8xf32, p>
  %a = kirl.acc_init : !kirl.acc<argkmin, 1xf32, k = 4, lanes = 16>
  %b = kirl.acc_reduce_lanes %a : !kirl.acc<argkmin, 1xf32, k = 4, lanes = 16> -> !kirl.acc<argkmin, 1xf32, k = 4>
  kirl.return
}
