// RUN: kir-opt %s -p kir-lower-to-loops | filecheck %s

/// A sum over i in a kernel over j is a column sum: no state, each pair's value is added in
/// place to the output row of its j, inside the same inner loop as the row reduction. The row
/// sum is linear: x_i leaves it (sum_j x_i y_j = x_i sum_j y_j), the column sum adds x_i y_j.
// CHECK-LABEL: kirl.func @rows_and_columns {
// CHECK:         scf.for %[[I:.*]] = %begin to %end
// CHECK:           %[[X:.*]] = kirl.load 0[%[[I]]]
// CHECK:           %[[R:.*]] = scf.for %[[J:.*]] = %{{.*}} to %reduced step %{{.*}} iter_args(%[[A:.*]] = %{{.*}}) -> (!kirl.acc<sum, 1xf32>) {
// CHECK:             %[[Y:.*]] = kirl.load 1[%[[J]]]
// CHECK:             %[[M:.*]] = kir.mul
// CHECK-NEXT:        %[[N:.*]] = kirl.acc_update %[[A]], %[[Y]] at %[[J]] : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, j>
// CHECK-NEXT:        kirl.accumulate %[[M]], 1[%[[J]]] : !kir.vec<1xf32, ij>
// CHECK-NEXT:        scf.yield %[[N]] : !kirl.acc<sum, 1xf32>
// CHECK:           %[[F:.*]] = kirl.acc_finalize %[[R]]
// CHECK-NEXT:      %[[S:.*]] = kir.mul %[[F]], %[[X]]
// CHECK-NEXT:      kirl.store %[[S]], 0[%[[I]]] : !kir.vec<1xf32, i>
// CHECK-NOT:       kirl.store %{{.*}}, 1
kir.kernel @rows_and_columns {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 1 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  %s = kir.reduce sum over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  kir.output %r, %s : !kir.vec<1xf32, i>, !kir.vec<1xf32, j>
}
