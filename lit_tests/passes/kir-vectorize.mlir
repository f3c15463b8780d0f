// RUN: kir-opt %s -p 'kir-vectorize{width=16}' | filecheck %s
// RUN: kir-opt %s -p 'kir-vectorize{width=16},kir-vectorize{width=16}' | filecheck %s
// RUN: kir-opt %s -p 'kir-vectorize{width=1}' | filecheck %s --check-prefix=SCALAR
// RUN: not kir-opt %s -p 'kir-vectorize{width=24}' 2>&1 | filecheck %s --check-prefix=BLOCKS

// kir-vectorize: the loop that folds pairs into states steps by `width` and is marked
// {kirl.lanes}: its values that depend on %j hold `width` lanes (lane l: index %j + l). Every
// state of the nest holds one state per lane (!kirl.acc<..., lanes = 16>), blocks combine lane
// by lane, and kirl.acc_reduce_lanes folds the lanes once per output row. Reductions that keep
// the best values (ArgMin, ArgKMin, ...) keep ONE state instead: the back-end tests a whole
// vector against it and folds in only the lanes that can change it; each block continues from
// the state so far (no fresh state, no combine). Running the pass twice changes nothing
// (second RUN line); width 1 leaves the loops as they are.

/// Sum of squared distances to the y_j, in blocks of 64 indices: one state per lane.
// CHECK-LABEL: kirl.func @distances {
// CHECK:         scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[INIT:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32, lanes = 16>
// CHECK-NEXT:      %[[BLOCK_SIZE:.*]] = arith.constant 64 : index
// CHECK-NEXT:      %[[LANES:.*]] = arith.constant 16 : index
// CHECK-NEXT:      %[[ACC:.*]] = scf.for %[[BLOCK:.*]] = %{{.*}} to %{{.*}} step %[[BLOCK_SIZE]] iter_args(%[[RUNNING:.*]] = %[[INIT]]) -> (!kirl.acc<sum, 1xf32, lanes = 16>) {
// CHECK:             %[[FRESH:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32, lanes = 16>
// CHECK-NEXT:        %[[PART:.*]] = scf.for %[[J:.*]] = %[[BLOCK]] to %{{.*}} step %[[LANES]] iter_args(%[[A:.*]] = %[[FRESH]]) -> (!kirl.acc<sum, 1xf32, lanes = 16>) {
// CHECK-NEXT:          %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<3xf32, j>
// CHECK-NEXT:          %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:          %[[NEXT:.*]] = kirl.acc_update %[[A]], %[[D]] at %[[J]] : !kirl.acc<sum, 1xf32, lanes = 16>, !kir.vec<1xf32, ij>
// CHECK-NEXT:          scf.yield %[[NEXT]] : !kirl.acc<sum, 1xf32, lanes = 16>
// CHECK-NEXT:        } {kirl.block = 64 : index, kirl.lanes = 16 : index}
// CHECK-NEXT:        %[[BOTH:.*]] = kirl.acc_combine %[[RUNNING]], %[[PART]] : !kirl.acc<sum, 1xf32, lanes = 16>
// CHECK-NEXT:        scf.yield %[[BOTH]] : !kirl.acc<sum, 1xf32, lanes = 16>
// CHECK-NEXT:      } {kirl.block = 64 : index}
// CHECK-NEXT:      %[[ONE:.*]] = kirl.acc_reduce_lanes %[[ACC]] : !kirl.acc<sum, 1xf32, lanes = 16> -> !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      %[[R:.*]] = kirl.acc_finalize %[[ONE]] : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
// CHECK-NEXT:      kirl.store %[[R]], 0[%[[I]]] : !kir.vec<1xf32, i>
// SCALAR-LABEL: kirl.func @distances {
// SCALAR-NOT:   lanes
kirl.func @distances {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<3xf32, i>
    %init = kirl.acc_init : !kirl.acc<sum, 1xf32>
    %block_size = arith.constant 64 : index
    %acc = scf.for %block = %c0 to %reduced step %block_size iter_args(%running = %init) -> (!kirl.acc<sum, 1xf32>) {
      %stop = arith.addi %block, %block_size : index
      %block_end = arith.minui %stop, %reduced : index
      %fresh = kirl.acc_init : !kirl.acc<sum, 1xf32>
      %part = scf.for %j = %block to %block_end step %c1 iter_args(%a = %fresh) -> (!kirl.acc<sum, 1xf32>) {
        %y = kirl.load 1[%j] : !kir.vec<3xf32, j>
        %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
        %next = kirl.acc_update %a, %d at %j : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
        scf.yield %next : !kirl.acc<sum, 1xf32>
      } {kirl.block = 64 : index}
      %combined = kirl.acc_combine %running, %part : !kirl.acc<sum, 1xf32>
      scf.yield %combined : !kirl.acc<sum, 1xf32>
    } {kirl.block = 64 : index}
    %r = kirl.acc_finalize %acc : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
    kirl.store %r, 0[%i] : !kir.vec<1xf32, i>
  }
  kirl.return
}

/// Nearest neighbour (ArgMin) of x_i among the y_j: one state, tested a vector at a time.
// CHECK-LABEL: kirl.func @nearest {
// CHECK:         scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[INIT:.*]] = kirl.acc_init : !kirl.acc<argmin, 1xf32>
// CHECK-NEXT:      %[[BLOCK_SIZE:.*]] = arith.constant 64 : index
// CHECK-NEXT:      %[[LANES:.*]] = arith.constant 16 : index
// CHECK-NEXT:      %[[ACC:.*]] = scf.for %[[BLOCK:.*]] = %{{.*}} to %{{.*}} step %[[BLOCK_SIZE]] iter_args(%[[RUNNING:.*]] = %[[INIT]]) -> (!kirl.acc<argmin, 1xf32>) {
// CHECK:             %[[PART:.*]] = scf.for %[[J:.*]] = %[[BLOCK]] to %{{.*}} step %[[LANES]] iter_args(%[[A:.*]] = %[[RUNNING]]) -> (!kirl.acc<argmin, 1xf32>) {
// CHECK-NEXT:          %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<3xf32, j>
// CHECK-NEXT:          %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:          %[[NEXT:.*]] = kirl.acc_update %[[A]], %[[D]] at %[[J]] : !kirl.acc<argmin, 1xf32>, !kir.vec<1xf32, ij>
// CHECK-NEXT:          scf.yield %[[NEXT]] : !kirl.acc<argmin, 1xf32>
// CHECK-NEXT:        } {kirl.block = 64 : index, kirl.lanes = 16 : index}
// CHECK-NEXT:        scf.yield %[[PART]] : !kirl.acc<argmin, 1xf32>
// CHECK-NEXT:      } {kirl.block = 64 : index}
// CHECK-NEXT:      %[[R:.*]] = kirl.acc_finalize %[[ACC]] : !kirl.acc<argmin, 1xf32> -> !kir.vec<1xi64, i>
// CHECK-NEXT:      kirl.store %[[R]], 0[%[[I]]] : !kir.vec<1xi64, i>
// SCALAR-LABEL: kirl.func @nearest {
// SCALAR-NOT:   lanes
// BLOCKS: kir-vectorize: the reduction blocks must hold a multiple of 24 indices
kirl.func @nearest {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<3xf32, i>
    %init = kirl.acc_init : !kirl.acc<argmin, 1xf32>
    %block_size = arith.constant 64 : index
    %acc = scf.for %block = %c0 to %reduced step %block_size iter_args(%running = %init) -> (!kirl.acc<argmin, 1xf32>) {
      %stop = arith.addi %block, %block_size : index
      %block_end = arith.minui %stop, %reduced : index
      %fresh = kirl.acc_init : !kirl.acc<argmin, 1xf32>
      %part = scf.for %j = %block to %block_end step %c1 iter_args(%a = %fresh) -> (!kirl.acc<argmin, 1xf32>) {
        %y = kirl.load 1[%j] : !kir.vec<3xf32, j>
        %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
        %next = kirl.acc_update %a, %d at %j : !kirl.acc<argmin, 1xf32>, !kir.vec<1xf32, ij>
        scf.yield %next : !kirl.acc<argmin, 1xf32>
      } {kirl.block = 64 : index}
      %combined = kirl.acc_combine %running, %part : !kirl.acc<argmin, 1xf32>
      scf.yield %combined : !kirl.acc<argmin, 1xf32>
    } {kirl.block = 64 : index}
    %r = kirl.acc_finalize %acc : !kirl.acc<argmin, 1xf32> -> !kir.vec<1xi64, i>
    kirl.store %r, 0[%i] : !kir.vec<1xi64, i>
  }
  kirl.return
}
