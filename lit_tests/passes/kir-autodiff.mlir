// RUN: kir-opt %s -p kir-autodiff --split-input-file | filecheck %s

/// The chain rule through one op: Grad(Exp(x), x, e) = e * Exp(x); no kir.grad is left.
// CHECK-LABEL: kir.kernel @exp {
// CHECK-DAG:     %[[E:.*]] = kir.var 1 : !kir.vec<3xf32, i>
// CHECK-DAG:     %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK:         %[[EXP:.*]] = kir.exp %[[X]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[G:.*]] = kir.mul %[[E]], %[[EXP]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %{{.*}} = kir.reduce sum over j %[[G]]
// CHECK-NOT:     kir.grad
kir.kernel @exp {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %e = kir.var 1 : !kir.vec<3xf32, i>
  %f = kir.exp %x : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %g = kir.grad %f, %x, %e : !kir.vec<3xf32, i>, !kir.vec<3xf32, i>, !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %r = kir.reduce sum over j %g : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}

// -----

/// The Gaussian kernel's gradient in x: -e * exp(-|x-y|^2) * 2 (x - y), over the pairs (ij).
// CHECK-LABEL: kir.kernel @gaussian {
// CHECK:         kir.sqdist
// CHECK:         kir.exp
// CHECK:         %[[D:.*]] = kir.sub %{{.*}}, %{{.*}} : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<2xf64, ij>
// CHECK:         kir.reduce sum over j %{{.*}} : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
// CHECK-NOT:     kir.grad
kir.kernel @gaussian {
  %x = kir.var 0 : !kir.vec<2xf64, i>
  %y = kir.var 1 : !kir.vec<2xf64, j>
  %d = kir.sqdist %x, %y : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<1xf64, ij>
  %n = kir.neg %d : !kir.vec<1xf64, ij> -> !kir.vec<1xf64, ij>
  %k = kir.exp %n : !kir.vec<1xf64, ij> -> !kir.vec<1xf64, ij>
  %one = kir.constant [1.0] : !kir.vec<1xf64, p>
  %g = kir.grad %k, %x, %one : !kir.vec<1xf64, ij>, !kir.vec<2xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<2xf64, ij>
  %r = kir.reduce sum over j %g : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
  kir.output %r : !kir.vec<2xf64, i>
}

// -----

/// A formula that does not depend on the variable has a zero gradient (a constant).
// CHECK-LABEL: kir.kernel @zero {
// CHECK:         %[[Z:.*]] = kir.constant [0.0, 0.0] : !kir.vec<2xf32, p>
// CHECK-NEXT:    %{{.*}} = kir.reduce sum over j %[[Z]] : !kir.vec<2xf32, p> -> !kir.vec<2xf32, i>
kir.kernel @zero {
  %x = kir.var 0 : !kir.vec<2xf32, i>
  %y = kir.var 1 : !kir.vec<2xf32, j>
  %f = kir.sqnorm2 %y : !kir.vec<2xf32, j> -> !kir.vec<1xf32, j>
  %one = kir.constant [1.0] : !kir.vec<1xf32, p>
  %g = kir.grad %f, %x, %one : !kir.vec<1xf32, j>, !kir.vec<2xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<2xf32, ij>
  %r = kir.reduce sum over j %g : !kir.vec<2xf32, ij> -> !kir.vec<2xf32, i>
  kir.output %r : !kir.vec<2xf32, i>
}

// -----

/// A gradient of a gradient (second order): the inner one is expanded first.
// CHECK-LABEL: kir.kernel @second_order {
// CHECK-NOT:     kir.grad
// CHECK:         kir.reduce sum over j
kir.kernel @second_order {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %s = kir.square %x : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %c = kir.pow %s {exponent = 3 : i64} : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %one = kir.constant [1.0] : !kir.vec<1xf32, p>
  %g = kir.grad %c, %x, %one : !kir.vec<1xf32, i>, !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
  %h = kir.grad %g, %x, %one : !kir.vec<1xf32, i>, !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
  %r = kir.reduce sum over j %h : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}
