// RUN: kir-opt %s -p kir-simplify --split-input-file | filecheck %s
// RUN: kir-opt %s -p 'kir-simplify{fast-math=true}' --split-input-file | filecheck %s --check-prefix=FAST
//
// The Gaussian kernel's second derivative, Grad(Grad(Exp(-|x-y|^2), x, 1), x, f): formula ops
// (variables, constants and the reduction included) after kir-autodiff,cse,dce: 23; with
// kir-simplify before cse: 20 (the direction's constant 1 and both products by it go). With a
// variable direction e instead of IntCst(1), autodiff's output has no identity left: 23 both ways.
// RUN: kir-opt --formula "Grad(Grad(Exp(-SqDist(x,y)), x, IntCst(1)), x, f)" --alias "x=Vi(3)" --alias "y=Vj(3)" --alias "f=Vi(3)" -p kir-autodiff,cse,dce | grep -c " = kir\." | filecheck %s --check-prefix=COUNT-PLAIN
// RUN: kir-opt --formula "Grad(Grad(Exp(-SqDist(x,y)), x, IntCst(1)), x, f)" --alias "x=Vi(3)" --alias "y=Vj(3)" --alias "f=Vi(3)" -p kir-autodiff,kir-simplify,cse,dce | grep -c " = kir\." | filecheck %s --check-prefix=COUNT-SIMPLIFIED
// COUNT-PLAIN: {{^}}23{{$}}
// COUNT-SIMPLIFIED: {{^}}20{{$}}

/// Constant folding: Sqrt of a constant becomes a constant, rounded to f32.
// CHECK-LABEL: kir.kernel @fold {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[S:.*]] = kir.constant [1.4142135381698608, 1.7320507764816284, 2.2360680103302] : !kir.vec<3xf32, p>
// CHECK-NEXT:    %[[M:.*]] = kir.mul %[[X]], %[[S]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, p> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    kir.reduce sum over j %[[M]]
// CHECK-NOT:     kir.sqrt
kir.kernel @fold {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %a = kir.constant [2.0, 3.0, 5.0] : !kir.vec<3xf32, p>
  %s = kir.sqrt %a : !kir.vec<3xf32, p> -> !kir.vec<3xf32, p>
  %m = kir.mul %x, %s : !kir.vec<3xf32, i>, !kir.vec<3xf32, p> -> !kir.vec<3xf32, i>
  %r = kir.reduce sum over j %m : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}

// -----

/// A fold whose result is infinite (Log(0) = -inf) is not done: the op stays.
// CHECK-LABEL: kir.kernel @fold_inf_kept {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<1xf64, i>
// CHECK-NEXT:    %[[Z:.*]] = kir.constant [0.0] : !kir.vec<1xf64, p>
// CHECK-NEXT:    %[[L:.*]] = kir.log %[[Z]] : !kir.vec<1xf64, p> -> !kir.vec<1xf64, p>
// CHECK-NEXT:    kir.mul %[[X]], %[[L]]
kir.kernel @fold_inf_kept {
  %x = kir.var 0 : !kir.vec<1xf64, i>
  %z = kir.constant [0.0] : !kir.vec<1xf64, p>
  %l = kir.log %z : !kir.vec<1xf64, p> -> !kir.vec<1xf64, p>
  %m = kir.mul %x, %l : !kir.vec<1xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<1xf64, i>
  %r = kir.reduce sum over j %m : !kir.vec<1xf64, i> -> !kir.vec<1xf64, i>
  kir.output %r : !kir.vec<1xf64, i>
}

// -----

/// x * 1, y / 1, y - 0, -(-y), 1 * y: all go, and the constants with them.
// CHECK-LABEL: kir.kernel @identities {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf64, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf64, j>
// CHECK-NEXT:    %[[S:.*]] = kir.add %[[X]], %[[Y]] : !kir.vec<3xf64, i>, !kir.vec<3xf64, j> -> !kir.vec<3xf64, ij>
// CHECK-NEXT:    kir.reduce sum over j %[[S]]
// CHECK-NOT:     kir.constant
kir.kernel @identities {
  %x = kir.var 0 : !kir.vec<3xf64, i>
  %y = kir.var 1 : !kir.vec<3xf64, j>
  %one = kir.constant [1.0] : !kir.vec<1xf64, p>
  %zero = kir.constant [0.0] : !kir.vec<1xf64, p>
  %a = kir.mul %x, %one : !kir.vec<3xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, i>
  %b = kir.div %y, %one : !kir.vec<3xf64, j>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, j>
  %c = kir.sub %b, %zero : !kir.vec<3xf64, j>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, j>
  %n = kir.neg %c : !kir.vec<3xf64, j> -> !kir.vec<3xf64, j>
  %nn = kir.neg %n : !kir.vec<3xf64, j> -> !kir.vec<3xf64, j>
  %d = kir.mul %one, %nn : !kir.vec<1xf64, p>, !kir.vec<3xf64, j> -> !kir.vec<3xf64, j>
  %s = kir.add %a, %d : !kir.vec<3xf64, i>, !kir.vec<3xf64, j> -> !kir.vec<3xf64, ij>
  %r = kir.reduce sum over j %s : !kir.vec<3xf64, ij> -> !kir.vec<3xf64, i>
  kir.output %r : !kir.vec<3xf64, i>
}

// -----

/// x * [1, 1] with a dimension-1 x has another type than x: kept.
// CHECK-LABEL: kir.kernel @broadcast_kept {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<1xf64, i>
// CHECK-NEXT:    %[[O:.*]] = kir.constant [1.0, 1.0] : !kir.vec<2xf64, p>
// CHECK-NEXT:    kir.mul %[[X]], %[[O]] : !kir.vec<1xf64, i>, !kir.vec<2xf64, p> -> !kir.vec<2xf64, i>
kir.kernel @broadcast_kept {
  %x = kir.var 0 : !kir.vec<1xf64, i>
  %ones = kir.constant [1.0, 1.0] : !kir.vec<2xf64, p>
  %a = kir.mul %x, %ones : !kir.vec<1xf64, i>, !kir.vec<2xf64, p> -> !kir.vec<2xf64, i>
  %r = kir.reduce sum over j %a : !kir.vec<2xf64, i> -> !kir.vec<2xf64, i>
  kir.output %r : !kir.vec<2xf64, i>
}

// -----

/// -0 + a -> a always; x + 0 -> x only with fast-math (-0 + 0 = +0).
// CHECK-LABEL: kir.kernel @signed_zero {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<1xf64, i>
// CHECK-NEXT:    %[[Z:.*]] = kir.constant [0.0] : !kir.vec<1xf64, p>
// CHECK-NEXT:    %[[A:.*]] = kir.add %[[X]], %[[Z]] : !kir.vec<1xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<1xf64, i>
// CHECK-NEXT:    kir.reduce sum over j %[[A]]
// FAST-LABEL:  kir.kernel @signed_zero {
// FAST-NEXT:     %[[X:.*]] = kir.var 0 : !kir.vec<1xf64, i>
// FAST-NEXT:     kir.reduce sum over j %[[X]]
kir.kernel @signed_zero {
  %x = kir.var 0 : !kir.vec<1xf64, i>
  %pz = kir.constant [0.0] : !kir.vec<1xf64, p>
  %mz = kir.constant [-0.0] : !kir.vec<1xf64, p>
  %a = kir.add %x, %pz : !kir.vec<1xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<1xf64, i>
  %b = kir.add %mz, %a : !kir.vec<1xf64, p>, !kir.vec<1xf64, i> -> !kir.vec<1xf64, i>
  %r = kir.reduce sum over j %b : !kir.vec<1xf64, i> -> !kir.vec<1xf64, i>
  kir.output %r : !kir.vec<1xf64, i>
}

// -----

/// x * -1 -> -x.
// CHECK-LABEL: kir.kernel @minus_one {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[N:.*]] = kir.neg %[[X]] : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// CHECK-NEXT:    kir.reduce sum over j %[[N]]
kir.kernel @minus_one {
  %x = kir.var 0 : !kir.vec<2xf32, i>
  %m = kir.constant [-1.0] : !kir.vec<1xf32, p>
  %a = kir.mul %x, %m : !kir.vec<2xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<2xf32, i>
  %r = kir.reduce sum over j %a : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  kir.output %r : !kir.vec<2xf32, i>
}

// -----

/// Pow(x, 1) -> x, Pow(x, 2) -> Square(x), Pow(p, 0) -> 1 (a p-category value: same type).
// CHECK-LABEL: kir.kernel @pow {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[S:.*]] = kir.square %[[X]] : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[C:.*]] = kir.constant [1.0, 1.0] : !kir.vec<2xf32, p>
// CHECK-NEXT:    %[[D:.*]] = kir.add %[[S]], %[[C]]
// CHECK-NOT:     kir.pow
kir.kernel @pow {
  %x = kir.var 0 : !kir.vec<2xf32, i>
  %p = kir.var 1 : !kir.vec<2xf32, p>
  %a = kir.pow %x {exponent = 1 : i64} : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  %b = kir.pow %a {exponent = 2 : i64} : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  %c = kir.pow %p {exponent = 0 : i64} : !kir.vec<2xf32, p> -> !kir.vec<2xf32, p>
  %d = kir.add %b, %c : !kir.vec<2xf32, i>, !kir.vec<2xf32, p> -> !kir.vec<2xf32, i>
  %r = kir.reduce sum over j %d : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  kir.output %r : !kir.vec<2xf32, i>
}

// -----

/// Powf(x, 1) -> x, Powf(x, 2) -> Square(x); Powf(x, 0.5) -> Sqrt(x) only with fast-math
/// (pow(-inf, 0.5) = +inf, sqrt(-inf) = NaN).
// CHECK-LABEL: kir.kernel @powf {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[H:.*]] = kir.constant [0.5] : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[S:.*]] = kir.square %[[X]] : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[P:.*]] = kir.powf %[[S]], %[[H]] : !kir.vec<2xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<2xf32, i>
// CHECK-NEXT:    kir.reduce sum over j %[[P]]
// FAST-LABEL:  kir.kernel @powf {
// FAST-NEXT:     %[[X:.*]] = kir.var 0 : !kir.vec<2xf32, i>
// FAST-NEXT:     %[[S:.*]] = kir.square %[[X]] : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// FAST-NEXT:     %[[R:.*]] = kir.sqrt %[[S]] : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// FAST-NEXT:     kir.reduce sum over j %[[R]]
kir.kernel @powf {
  %x = kir.var 0 : !kir.vec<2xf32, i>
  %one = kir.constant [1.0] : !kir.vec<1xf32, p>
  %two = kir.constant [2.0] : !kir.vec<1xf32, p>
  %half = kir.constant [0.5] : !kir.vec<1xf32, p>
  %a = kir.powf %x, %one : !kir.vec<2xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<2xf32, i>
  %b = kir.powf %a, %two : !kir.vec<2xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<2xf32, i>
  %c = kir.powf %b, %half : !kir.vec<2xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<2xf32, i>
  %r = kir.reduce sum over j %c : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  kir.output %r : !kir.vec<2xf32, i>
}

// -----

/// 0 * p is kept (0 * inf = NaN), its constant put second (commutative operand order); with
/// fast-math it becomes 0, and then x + 0 -> x.
// CHECK-LABEL: kir.kernel @zero_times {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[P:.*]] = kir.var 1 : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[Z:.*]] = kir.constant [0.0] : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[A:.*]] = kir.mul %[[P]], %[[Z]] : !kir.vec<1xf32, p>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[B:.*]] = kir.add %[[X]], %[[A]]
// FAST-LABEL:  kir.kernel @zero_times {
// FAST-NEXT:     %[[X:.*]] = kir.var 0 : !kir.vec<1xf32, i>
// FAST-NEXT:     kir.reduce sum over j %[[X]]
// FAST-NOT:      kir.mul
kir.kernel @zero_times {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %p = kir.var 1 : !kir.vec<1xf32, p>
  %z = kir.constant [0.0] : !kir.vec<1xf32, p>
  %a = kir.mul %z, %p : !kir.vec<1xf32, p>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, p>
  %b = kir.add %x, %a : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
  %r = kir.reduce sum over j %b : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

// -----

/// Exp(Log(x)) -> x only with fast-math (NaN for x < 0 otherwise).
// CHECK-LABEL: kir.kernel @exp_log {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[L:.*]] = kir.log %[[X]] : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[E:.*]] = kir.exp %[[L]] : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    kir.reduce sum over j %[[E]]
// FAST-LABEL:  kir.kernel @exp_log {
// FAST-NEXT:     %[[X:.*]] = kir.var 0 : !kir.vec<1xf32, i>
// FAST-NEXT:     kir.reduce sum over j %[[X]]
kir.kernel @exp_log {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %l = kir.log %x : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %e = kir.exp %l : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %r = kir.reduce sum over j %e : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

// -----

/// Exact scalings move to the operand with fewer entries: -w * (2 * d), as autodiff writes the
/// Gaussian's gradient, becomes (w * -2) * d (one product per entry of d instead of two, and no
/// negation). Both forms round once per entry the same way.
// CHECK-LABEL: kir.kernel @scale_the_scalar {
// CHECK:         %[[W:.*]] = kir.mul %{{.*}}, %{{.*}} : !kir.vec<1xf32, j>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK:         %[[D:.*]] = kir.sub %{{.*}}, %{{.*}} : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<3xf32, ij>
// CHECK:         %[[C:.*]] = kir.constant [-2.0] : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[S:.*]] = kir.mul %[[W]], %[[C]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %[[G:.*]] = kir.mul %[[D]], %[[S]] : !kir.vec<3xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<3xf32, ij>
// CHECK-NEXT:    kir.reduce sum over j %[[G]]
// CHECK-NOT:     kir.neg
kir.kernel @scale_the_scalar {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %b = kir.var 2 : !kir.vec<1xf32, j>
  %q = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %w = kir.mul %q, %b : !kir.vec<1xf32, ij>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %n = kir.neg %w : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %d = kir.sub %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<3xf32, ij>
  %two = kir.constant [2.0] : !kir.vec<1xf32, p>
  %t = kir.mul %two, %d : !kir.vec<1xf32, p>, !kir.vec<3xf32, ij> -> !kir.vec<3xf32, ij>
  %g = kir.mul %n, %t : !kir.vec<1xf32, ij>, !kir.vec<3xf32, ij> -> !kir.vec<3xf32, ij>
  %r = kir.reduce sum over j %g : !kir.vec<3xf32, ij> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}

// -----

/// A scaling shared by other uses stays: moving it would add work.
// CHECK-LABEL: kir.kernel @shared_scaling_kept {
// CHECK:         %[[T:.*]] = kir.mul %{{.*}}, %{{.*}} : !kir.vec<3xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<3xf32, i>
// CHECK:         kir.mul %{{.*}}, %[[T]]
// CHECK:         kir.add %[[T]]
kir.kernel @shared_scaling_kept {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %s = kir.var 1 : !kir.vec<1xf32, j>
  %two = kir.constant [2.0] : !kir.vec<1xf32, p>
  %t = kir.mul %x, %two : !kir.vec<3xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<3xf32, i>
  %g = kir.mul %s, %t : !kir.vec<1xf32, j>, !kir.vec<3xf32, i> -> !kir.vec<3xf32, ij>
  %h = kir.add %t, %g : !kir.vec<3xf32, i>, !kir.vec<3xf32, ij> -> !kir.vec<3xf32, ij>
  %r = kir.reduce sum over j %h : !kir.vec<3xf32, ij> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}
