// RUN: kir-opt %s -p kir-lower-to-loops | filecheck %s

/// A sum over i in a kernel over j is a column sum: no state, each pair's value is added in
/// place to the output row of its j, inside the same inner loop as the row reduction.
// CHECK-LABEL: kirl.func @rows_and_columns {
// CHECK:         scf.for %[[I:.*]] = %begin to %end
// CHECK:           %[[R:.*]] = scf.for %[[J:.*]] = %{{.*}} to %reduced step %{{.*}} iter_args(%[[A:.*]] = %{{.*}}) -> (!kirl.acc<sum, 1xf32>) {
// CHECK:             %[[M:.*]] = kir.mul
// CHECK-NEXT:        %[[N:.*]] = kirl.acc_update %[[A]], %[[M]] at %[[J]] : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
// CHECK-NEXT:        kirl.accumulate %[[M]], 1[%[[J]]] : !kir.vec<1xf32, ij>
// CHECK-NEXT:        scf.yield %[[N]] : !kirl.acc<sum, 1xf32>
// CHECK:           kirl.store %{{.*}}, 0[%[[I]]] : !kir.vec<1xf32, i>
// CHECK-NOT:       kirl.store %{{.*}}, 1
kir.kernel @rows_and_columns {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 1 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  %s = kir.reduce sum over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  kir.output %r, %s : !kir.vec<1xf32, i>, !kir.vec<1xf32, j>
}
