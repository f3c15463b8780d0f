// RUN: kir-opt %s | kir-opt | filecheck %s
// RUN: kir-opt %s -p kir-lower-to-loops | filecheck %s --check-prefix=LOOPS

/// K-min reductions carry K; weighted reductions take the weight formula as a second operand.
// CHECK-LABEL: kir.kernel @options {
// CHECK:         %[[D:.*]] = kir.sqdist
// CHECK-NEXT:    %[[K:.*]] = kir.reduce argkmin over j %[[D]] {k = 4} : !kir.vec<1xf32, ij> -> !kir.vec<4xi64, i>
// CHECK-NEXT:    %[[S:.*]] = kir.reduce sumsoftmaxweight over j %[[D]], %[[W:.*]] : !kir.vec<1xf32, ij>, !kir.vec<3xf32, j> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    kir.output %[[K]], %[[S]] : !kir.vec<4xi64, i>, !kir.vec<3xf32, i>
kir.kernel @options {
  %x = kir.var 0 : !kir.vec<2xf32, i>
  %y = kir.var 1 : !kir.vec<2xf32, j>
  %w = kir.var 2 : !kir.vec<3xf32, j>
  %d = kir.sqdist %x, %y : !kir.vec<2xf32, i>, !kir.vec<2xf32, j> -> !kir.vec<1xf32, ij>
  %k = kir.reduce argkmin over j %d {k = 4} : !kir.vec<1xf32, ij> -> !kir.vec<4xi64, i>
  %s = kir.reduce sumsoftmaxweight over j %d, %w : !kir.vec<1xf32, ij>, !kir.vec<3xf32, j> -> !kir.vec<3xf32, i>
  kir.output %k, %s : !kir.vec<4xi64, i>, !kir.vec<3xf32, i>
}

/// The states say K and the weight dimension; the update reads the formula and the weights.
// LOOPS-LABEL: kirl.func @options {
// LOOPS-DAG:     kirl.acc_init : !kirl.acc<argkmin, 1xf32, k = 4>
// LOOPS-DAG:     kirl.acc_init : !kirl.acc<sumsoftmaxweight, 1xf32, weight = 3>
// LOOPS:         kirl.acc_update %{{.*}}, %{{.*}} at %j : !kirl.acc<argkmin, 1xf32, k = 4>, !kir.vec<1xf32, ij>
// LOOPS-NEXT:    kirl.acc_update %{{.*}}, %{{.*}}, %w at %j : !kirl.acc<sumsoftmaxweight, 1xf32, weight = 3>, !kir.vec<1xf32, ij>, !kir.vec<3xf32, j>
// LOOPS:         kirl.acc_finalize %{{.*}} : !kirl.acc<argkmin, 1xf32, k = 4> -> !kir.vec<4xi64, i>
