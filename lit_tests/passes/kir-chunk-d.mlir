// RUN: kir-opt %s -p 'kir-chunk-d{threshold=16 chunk=8},dce' | filecheck %s
// RUN: kir-opt %s -p 'kir-chunk-d{threshold=32 chunk=8}' | filecheck %s --check-prefix=NARROW

// kir-chunk-d: a sum over the entries of wide vectors (here D = 20 >= threshold 16) built
// entry by entry from loaded rows is computed chunk by chunk: the first chunk before the loop,
// the others in a loop over %d (marked {kirl.chunk}), a last partial chunk (20 = 2 x 8 + 4)
// after it. Loads read `entries %d of 20`; a scalar operand (%s) is used as it is. The wide
// loads and ops die (dce).

/// exp-free part of a Gaussian with a scaled y, plus a scalar product: two chunked sums.
// CHECK-LABEL: kirl.func @wide_gaussian {
// CHECK:           %[[A:.*]] = scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK-NEXT:        %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:        %[[C8:.*]] = arith.constant 8 : index
// CHECK-NEXT:        %[[C16:.*]] = arith.constant 16 : index
// CHECK-NEXT:        %[[X0:.*]] = kirl.load 0[%[[I:.*]]] entries %[[C0]] of 20 : !kir.vec<8xf32, i>
// CHECK-NEXT:        %[[Y0:.*]] = kirl.load 1[%[[J]]] entries %[[C0]] of 20 : !kir.vec<8xf32, j>
// CHECK-NEXT:        %[[SY0:.*]] = kir.mul %[[S:.*]], %[[Y0]] : !kir.vec<1xf32, p>, !kir.vec<8xf32, j> -> !kir.vec<8xf32, j>
// CHECK-NEXT:        %[[FIRST:.*]] = kir.sqdist %[[X0]], %[[SY0]] : !kir.vec<8xf32, i>, !kir.vec<8xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[LOOP:.*]] = scf.for %[[D:.*]] = %[[C8]] to %[[C16]] step %[[C8]] iter_args(%[[TOTAL:.*]] = %[[FIRST]]) -> (!kir.vec<1xf32, ij>) {
// CHECK-NEXT:          %[[XD:.*]] = kirl.load 0[%[[I]]] entries %[[D]] of 20 : !kir.vec<8xf32, i>
// CHECK-NEXT:          %[[YD:.*]] = kirl.load 1[%[[J]]] entries %[[D]] of 20 : !kir.vec<8xf32, j>
// CHECK-NEXT:          %[[SYD:.*]] = kir.mul %[[S]], %[[YD]]
// CHECK-NEXT:          %[[PART:.*]] = kir.sqdist %[[XD]], %[[SYD]]
// CHECK-NEXT:          %[[SUM:.*]] = kir.add %[[TOTAL]], %[[PART]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:          scf.yield %[[SUM]] : !kir.vec<1xf32, ij>
// CHECK-NEXT:        } {kirl.chunk = 8 : index}
// CHECK-NEXT:        %[[XT:.*]] = kirl.load 0[%[[I]]] entries %[[C16]] of 20 : !kir.vec<4xf32, i>
// CHECK-NEXT:        %[[YT:.*]] = kirl.load 1[%[[J]]] entries %[[C16]] of 20 : !kir.vec<4xf32, j>
// CHECK-NEXT:        %[[SYT:.*]] = kir.mul %[[S]], %[[YT]] : !kir.vec<1xf32, p>, !kir.vec<4xf32, j> -> !kir.vec<4xf32, j>
// CHECK-NEXT:        %[[TAIL:.*]] = kir.sqdist %[[XT]], %[[SYT]] : !kir.vec<4xf32, i>, !kir.vec<4xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[DIST:.*]] = kir.add %[[LOOP]], %[[TAIL]]
// CHECK:             kir.scalprod %{{.*}}, %{{.*}} : !kir.vec<8xf32, i>, !kir.vec<8xf32, j> -> !kir.vec<1xf32, ij>
// CHECK:             } {kirl.chunk = 8 : index}
// CHECK:             %[[PROD:.*]] = kir.add
// CHECK-NEXT:        %[[T:.*]] = kir.add %[[DIST]], %[[PROD]]
// CHECK-NEXT:        kirl.acc_update %{{.*}}, %[[T]] at %[[J]]
// CHECK-NOT:     !kir.vec<20xf32
// NARROW-LABEL: kirl.func @wide_gaussian {
// NARROW-NOT:   entries
// NARROW:       kir.sqdist %{{.*}}, %{{.*}} : !kir.vec<20xf32, i>, !kir.vec<20xf32, j>
kirl.func @wide_gaussian {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %s = kirl.load 3 : !kir.vec<1xf32, p>
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<20xf32, i>
    %init = kirl.acc_init : !kirl.acc<sum, 1xf32>
    %acc = scf.for %j = %c0 to %reduced step %c1 iter_args(%a = %init) -> (!kirl.acc<sum, 1xf32>) {
      %y = kirl.load 1[%j] : !kir.vec<20xf32, j>
      %w = kirl.load 2[%j] : !kir.vec<20xf32, j>
      %sy = kir.mul %s, %y : !kir.vec<1xf32, p>, !kir.vec<20xf32, j> -> !kir.vec<20xf32, j>
      %d = kir.sqdist %x, %sy : !kir.vec<20xf32, i>, !kir.vec<20xf32, j> -> !kir.vec<1xf32, ij>
      %p = kir.scalprod %x, %w : !kir.vec<20xf32, i>, !kir.vec<20xf32, j> -> !kir.vec<1xf32, ij>
      %t = kir.add %d, %p : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
      %next = kirl.acc_update %a, %t at %j : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
      scf.yield %next : !kirl.acc<sum, 1xf32>
    }
    %r = kirl.acc_finalize %acc : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
    kirl.store %r, 0[%i] : !kir.vec<1xf32, i>
  }
  kirl.return
}
