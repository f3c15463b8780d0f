// RUN: kir-opt %s -p kir-simplify --split-input-file | filecheck %s
// RUN: kir-opt %s -p kir-simplify,cse --split-input-file | filecheck %s --check-prefix=CSE
//
// The Gaussian plus the Laplace kernel, Exp(-SqDist(x,y)) + Exp(-Norm2(y-x)): after the
// pipeline's formula passes one squared distance is left, shared by both terms.
// RUN: kir-opt --formula "Exp(-SqDist(x,y)) + Exp(-Norm2(y-x))" --alias "x=Vi(3)" --alias "y=Vj(3)" -p kir-autodiff,kir-simplify,cse,dce | filecheck %s --check-prefix=KERNEL
// KERNEL:      %[[D:.*]] = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// KERNEL-NOT:  kir.sqdist
// KERNEL-NOT:  kir.norm2
// KERNEL-NOT:  kir.sub
// KERNEL:      kir.sqrt %[[D]]

/// Commutative ops get one operand order: sqdist %y, %x becomes sqdist %x, %y, and cse merges it
/// with the sqdist %x, %y already there.
// CHECK-LABEL: kir.kernel @swapped_sqdist {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf32, j>
// CHECK-NEXT:    %{{.*}} = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %{{.*}} = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CSE-LABEL:   kir.kernel @swapped_sqdist {
// CSE-NEXT:      %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CSE-NEXT:      %[[Y:.*]] = kir.var 1 : !kir.vec<3xf32, j>
// CSE-NEXT:      %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CSE-NEXT:      %[[S:.*]] = kir.add %[[D]], %[[D]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CSE-NEXT:      kir.reduce sum over j %[[S]]
kir.kernel @swapped_sqdist {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %a = kir.sqdist %y, %x : !kir.vec<3xf32, j>, !kir.vec<3xf32, i> -> !kir.vec<1xf32, ij>
  %b = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %s = kir.add %a, %b : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %s : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

// -----

/// The order follows what a value computes, not where it stands: Exp(x) written twice counts as
/// one value, so Exp(x) + p and p + Exp(x) agree even with p defined between the two copies.
/// Constants go last (x * 2), broadcast dimensions (1 + 3) keep the result type.
// CHECK-LABEL: kir.kernel @value_numbers {
// CHECK:         %[[E1:.*]] = kir.exp %[[X:.*]] :
// CHECK-NEXT:    %[[P:.*]] = kir.var 1 : !kir.vec<1xf64, p>
// CHECK-NEXT:    %[[E2:.*]] = kir.exp %[[X]] :
// CHECK-NEXT:    %{{.*}} = kir.add %[[E1]], %[[P]] : !kir.vec<3xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, i>
// CHECK-NEXT:    %{{.*}} = kir.add %[[E2]], %[[P]] : !kir.vec<3xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, i>
// CHECK:         %{{.*}} = kir.mul %[[X]], %[[C:.*]] : !kir.vec<3xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, i>
// CSE-LABEL:   kir.kernel @value_numbers {
// CSE-COUNT-1:   kir.exp
// CSE-NOT:       kir.exp
// CSE:           %[[A:.*]] = kir.add
// CSE-NOT:       kir.add
// CSE:           kir.mul %[[A]], %[[A]]
kir.kernel @value_numbers {
  %x = kir.var 0 : !kir.vec<3xf64, i>
  %e1 = kir.exp %x : !kir.vec<3xf64, i> -> !kir.vec<3xf64, i>
  %p = kir.var 1 : !kir.vec<1xf64, p>
  %e2 = kir.exp %x : !kir.vec<3xf64, i> -> !kir.vec<3xf64, i>
  %a = kir.add %e1, %p : !kir.vec<3xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, i>
  %b = kir.add %p, %e2 : !kir.vec<1xf64, p>, !kir.vec<3xf64, i> -> !kir.vec<3xf64, i>
  %m = kir.mul %a, %b : !kir.vec<3xf64, i>, !kir.vec<3xf64, i> -> !kir.vec<3xf64, i>
  %two = kir.constant [2.0] : !kir.vec<1xf64, p>
  %t = kir.mul %two, %x : !kir.vec<1xf64, p>, !kir.vec<3xf64, i> -> !kir.vec<3xf64, i>
  %s = kir.add %m, %t : !kir.vec<3xf64, i>, !kir.vec<3xf64, i> -> !kir.vec<3xf64, i>
  %r = kir.reduce sum over j %s : !kir.vec<3xf64, i> -> !kir.vec<3xf64, i>
  kir.output %r : !kir.vec<3xf64, i>
}

// -----

/// Max(a, b) and Min(a, b) keep their order (Max(+0, -0) = +0 but Max(-0, +0) = -0), as do
/// non-commutative ops (Sub, Atan2).
// CHECK-LABEL: kir.kernel @not_commutative {
// CHECK:         kir.maximum %[[Y:.*]], %[[X:.*]] : !kir.vec<2xf32, j>, !kir.vec<2xf32, i>
// CHECK-NEXT:    kir.minimum %[[Y]], %[[X]] : !kir.vec<2xf32, j>, !kir.vec<2xf32, i>
// CHECK-NEXT:    kir.sub %[[Y]], %[[X]] : !kir.vec<2xf32, j>, !kir.vec<2xf32, i>
kir.kernel @not_commutative {
  %x = kir.var 0 : !kir.vec<2xf32, i>
  %y = kir.var 1 : !kir.vec<2xf32, j>
  %a = kir.maximum %y, %x : !kir.vec<2xf32, j>, !kir.vec<2xf32, i> -> !kir.vec<2xf32, ij>
  %b = kir.minimum %y, %x : !kir.vec<2xf32, j>, !kir.vec<2xf32, i> -> !kir.vec<2xf32, ij>
  %c = kir.sub %y, %x : !kir.vec<2xf32, j>, !kir.vec<2xf32, i> -> !kir.vec<2xf32, ij>
  %s = kir.add %a, %b : !kir.vec<2xf32, ij>, !kir.vec<2xf32, ij> -> !kir.vec<2xf32, ij>
  %t = kir.add %s, %c : !kir.vec<2xf32, ij>, !kir.vec<2xf32, ij> -> !kir.vec<2xf32, ij>
  %r = kir.reduce sum over j %t : !kir.vec<2xf32, ij> -> !kir.vec<2xf32, i>
  kir.output %r : !kir.vec<2xf32, i>
}

// -----

/// Norm2(y - x) -> Sqrt(SqDist(y, x)) -> Sqrt(SqDist(x, y)): after cse it reads the squared
/// distance the Gaussian term computes (the same entries, squares and pairwise sum: exact).
// CHECK-LABEL: kir.kernel @norm_of_difference {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf32, j>
// CHECK-NEXT:    %[[D:.*]] = kir.sqdist %[[X]], %[[Y]]
// CHECK:         %[[D2:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %{{.*}} = kir.sqrt %[[D2]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NOT:     kir.norm2
// CSE-LABEL:   kir.kernel @norm_of_difference {
// CSE-NOT:       kir.sub
// CSE:           %[[D:.*]] = kir.sqdist
// CSE-NOT:       kir.sqdist
// CSE:           kir.sqrt %[[D]]
kir.kernel @norm_of_difference {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %n = kir.neg %d : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %g = kir.exp %n : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %v = kir.sub %y, %x : !kir.vec<3xf32, j>, !kir.vec<3xf32, i> -> !kir.vec<3xf32, ij>
  %l = kir.norm2 %v : !kir.vec<3xf32, ij> -> !kir.vec<1xf32, ij>
  %s = kir.add %g, %l : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %s : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

// -----

/// SqNorm2(x - y) -> SqDist(x, y) and Norm2(v) -> Sqrt(SqNorm2(v)); a difference that broadcasts
/// (dimension 1 against 3) stays a SqNorm2, as SqDist takes operands of one dimension.
// CHECK-LABEL: kir.kernel @norms {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf64, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf64, j>
// CHECK-NEXT:    %[[P:.*]] = kir.var 2 : !kir.vec<1xf64, p>
// CHECK-NEXT:    %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf64, i>, !kir.vec<3xf64, j> -> !kir.vec<1xf64, ij>
// CHECK-NEXT:    %[[B:.*]] = kir.sub %[[X]], %[[P]] : !kir.vec<3xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, i>
// CHECK-NEXT:    %[[Q:.*]] = kir.sqnorm2 %[[B]] : !kir.vec<3xf64, i> -> !kir.vec<1xf64, i>
// CHECK-NEXT:    %[[Q2:.*]] = kir.sqnorm2 %[[Y]] : !kir.vec<3xf64, j> -> !kir.vec<1xf64, j>
// CHECK-NEXT:    %[[N:.*]] = kir.sqrt %[[Q2]] : !kir.vec<1xf64, j> -> !kir.vec<1xf64, j>
kir.kernel @norms {
  %x = kir.var 0 : !kir.vec<3xf64, i>
  %y = kir.var 1 : !kir.vec<3xf64, j>
  %p = kir.var 2 : !kir.vec<1xf64, p>
  %v = kir.sub %x, %y : !kir.vec<3xf64, i>, !kir.vec<3xf64, j> -> !kir.vec<3xf64, ij>
  %a = kir.sqnorm2 %v : !kir.vec<3xf64, ij> -> !kir.vec<1xf64, ij>
  %w = kir.sub %x, %p : !kir.vec<3xf64, i>, !kir.vec<1xf64, p> -> !kir.vec<3xf64, i>
  %b = kir.sqnorm2 %w : !kir.vec<3xf64, i> -> !kir.vec<1xf64, i>
  %c = kir.norm2 %y : !kir.vec<3xf64, j> -> !kir.vec<1xf64, j>
  %s = kir.add %a, %b : !kir.vec<1xf64, ij>, !kir.vec<1xf64, i> -> !kir.vec<1xf64, ij>
  %t = kir.add %s, %c : !kir.vec<1xf64, ij>, !kir.vec<1xf64, j> -> !kir.vec<1xf64, ij>
  %r = kir.reduce sum over j %t : !kir.vec<1xf64, ij> -> !kir.vec<1xf64, i>
  kir.output %r : !kir.vec<1xf64, i>
}

// -----

/// While a kir.grad remains, Norm2 stays: Norm2'(0) = 0, but Sqrt(SqNorm2)'(0) would be NaN.
// CHECK-LABEL: kir.kernel @norm_before_autodiff {
// CHECK:         %[[N:.*]] = kir.norm2
// CHECK-NEXT:    kir.grad %[[N]]
// CHECK-NOT:     kir.sqrt
kir.kernel @norm_before_autodiff {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %e = kir.var 1 : !kir.vec<1xf32, p>
  %n = kir.norm2 %x : !kir.vec<3xf32, i> -> !kir.vec<1xf32, i>
  %g = kir.grad %n, %x, %e : !kir.vec<1xf32, i>, !kir.vec<3xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<3xf32, i>
  %r = kir.reduce sum over j %g : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}
