// RUN: kir-opt %s -p kir-lower-to-loops | filecheck %s
// RUN: kir-opt %s -p kir-lower-to-loops | filecheck %s --check-prefix=LOWERED

// kir-lower-to-loops: each kir.kernel becomes a kirl.func over (begin, end, reduced). The
// output index runs in the outer scf.for, the reduced index in the inner one that carries the
// reduction states; each op goes to the shallowest loop its category allows.

/// Nothing of the formula level's structure is left: variables become loads, reductions
/// become states, the kernel a function.
// LOWERED-NOT: kir.kernel
// LOWERED-NOT: kir.var
// LOWERED-NOT: kir.reduce
// LOWERED-NOT: kir.output

/// The Gaussian kernel over j: x (an i-variable) is loaded once per output row, before the
/// inner loop; y, b and the pairwise ops run inside it; the state is updated per j, then
/// finalized and stored at row i.
// CHECK-LABEL: kirl.func @gaussian {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]] step %[[C1]] {
// CHECK-NEXT:      %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[INIT:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      %[[ACC:.*]] = scf.for %[[J:.*]] = %[[C0]] to %[[REDUCED]] step %[[C1]] iter_args(%[[A:.*]] = %[[INIT]]) -> (!kirl.acc<sum, 1xf32>) {
// CHECK-NEXT:        %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<3xf32, j>
// CHECK-NEXT:        %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[N:.*]] = kir.neg %[[D]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[E:.*]] = kir.exp %[[N]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[B:.*]] = kirl.load 2[%[[J]]] : !kir.vec<1xf32, j>
// CHECK-NEXT:        %[[K:.*]] = kir.mul %[[E]], %[[B]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[NEXT:.*]] = kirl.acc_update %[[A]], %[[K]] at %[[J]] : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
// CHECK-NEXT:        scf.yield %[[NEXT]] : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[R:.*]] = kirl.acc_finalize %[[ACC]] : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
// CHECK-NEXT:      kirl.store %[[R]], 0[%[[I]]] : !kir.vec<1xf32, i>
// CHECK-NEXT:    }
// CHECK-NEXT:    kirl.return
// CHECK-NEXT:  }
kir.kernel @gaussian {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %n = kir.neg %d : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %e = kir.exp %n : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %b = kir.var 2 : !kir.vec<1xf32, j>
  %k = kir.mul %e, %b : !kir.vec<1xf32, ij>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %k : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

/// A reduction over i (axis 0): the outer loop runs over j, so the j-variable is loaded there
/// and the i-variables inside; the result row is stored at j.
// CHECK-LABEL: kirl.func @over_i {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:    scf.for %[[J:.*]] = %[[BEGIN]] to %[[END]] step %[[C1]] {
// CHECK-NEXT:      %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<3xf32, j>
// CHECK-NEXT:      %[[INIT:.*]] = kirl.acc_init : !kirl.acc<min, 1xf32>
// CHECK-NEXT:      %[[ACC:.*]] = scf.for %[[I:.*]] = %[[C0]] to %[[REDUCED]] step %[[C1]] iter_args(%[[A:.*]] = %[[INIT]]) -> (!kirl.acc<min, 1xf32>) {
// CHECK-NEXT:        %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:        %[[W:.*]] = kirl.load 2[%[[I]]] : !kir.vec<1xf32, i>
// CHECK-NEXT:        %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[M:.*]] = kir.mul %[[D]], %[[W]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, i> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[NEXT:.*]] = kirl.acc_update %[[A]], %[[M]] at %[[I]] : !kirl.acc<min, 1xf32>, !kir.vec<1xf32, ij>
// CHECK-NEXT:        scf.yield %[[NEXT]] : !kirl.acc<min, 1xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[R:.*]] = kirl.acc_finalize %[[ACC]] : !kirl.acc<min, 1xf32> -> !kir.vec<1xf32, j>
// CHECK-NEXT:      kirl.store %[[R]], 0[%[[J]]] : !kir.vec<1xf32, j>
// CHECK-NEXT:    }
// CHECK-NEXT:    kirl.return
// CHECK-NEXT:  }
kir.kernel @over_i {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %w = kir.var 2 : !kir.vec<1xf32, i>
  %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %m = kir.mul %d, %w : !kir.vec<1xf32, ij>, !kir.vec<1xf32, i> -> !kir.vec<1xf32, ij>
  %r = kir.reduce min over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  kir.output %r : !kir.vec<1xf32, j>
}

/// A parameter: its load (no row), the constant and the p-valued product are hoisted before
/// the outer loop, even though they are written after the pairwise op; an i-valued op is
/// computed once per row, outside the inner loop. The sum is linear: x_i^2 leaves it, so the
/// loop sums one entry (exp) instead of three, and the row scales the sum once (the per-pair
/// product no longer used is left for dce).
// CHECK-LABEL: kirl.func @parameter {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:    %[[G:.*]] = kirl.load 2 : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[MINUS:.*]] = kir.constant [-1.0] : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[NG:.*]] = kir.mul %[[G]], %[[MINUS]] : !kir.vec<1xf32, p>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, p>
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]] step %[[C1]] {
// CHECK-NEXT:      %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[XS:.*]] = kir.square %[[X]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[INIT:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      %[[ACC:.*]] = scf.for %[[J:.*]] = %[[C0]] to %[[REDUCED]] step %[[C1]] iter_args(%[[A:.*]] = %[[INIT]]) -> (!kirl.acc<sum, 1xf32>) {
// CHECK-NEXT:        %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<3xf32, j>
// CHECK-NEXT:        %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[E:.*]] = kir.mul %[[D]], %[[NG]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[K:.*]] = kir.exp %[[E]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[V:.*]] = kir.mul %[[K]], %[[XS]] : !kir.vec<1xf32, ij>, !kir.vec<3xf32, i> -> !kir.vec<3xf32, ij>
// CHECK-NEXT:        %[[NEXT:.*]] = kirl.acc_update %[[A]], %[[K]] at %[[J]] : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
// CHECK-NEXT:        scf.yield %[[NEXT]] : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[R:.*]] = kirl.acc_finalize %[[ACC]] : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
// CHECK-NEXT:      %[[S:.*]] = kir.mul %[[R]], %[[XS]] : !kir.vec<1xf32, i>, !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:      kirl.store %[[S]], 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:    }
// CHECK-NEXT:    kirl.return
// CHECK-NEXT:  }
kir.kernel @parameter {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %g = kir.var 2 : !kir.vec<1xf32, p>
  %minus = kir.constant [-1.0] : !kir.vec<1xf32, p>
  %ng = kir.mul %g, %minus : !kir.vec<1xf32, p>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, p>
  %xs = kir.square %x : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %e = kir.mul %d, %ng : !kir.vec<1xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, ij>
  %k = kir.exp %e : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %v = kir.mul %k, %xs : !kir.vec<1xf32, ij>, !kir.vec<3xf32, i> -> !kir.vec<3xf32, ij>
  %r = kir.reduce sum over j %v : !kir.vec<3xf32, ij> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}

/// Two outputs share the loop nest: one state each, carried together by the inner loop,
/// finalized in output order and stored to outputs 0 and 1.
// CHECK-LABEL: kirl.func @two_outputs {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]] step %[[C1]] {
// CHECK-NEXT:      %[[X:.*]] = kirl.load 0[%[[I]]] : !kir.vec<2xf64, i>
// CHECK-NEXT:      %[[INIT0:.*]] = kirl.acc_init : !kirl.acc<min, 1xf64>
// CHECK-NEXT:      %[[INIT1:.*]] = kirl.acc_init : !kirl.acc<argmin, 1xf64>
// CHECK-NEXT:      %[[MIN:.*]], %[[ARG:.*]] = scf.for %[[J:.*]] = %[[C0]] to %[[REDUCED]] step %[[C1]] iter_args(%[[A0:.*]] = %[[INIT0]], %[[A1:.*]] = %[[INIT1]]) -> (!kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>) {
// CHECK-NEXT:        %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<2xf64, j>
// CHECK-NEXT:        %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<1xf64, ij>
// CHECK-NEXT:        %[[N0:.*]] = kirl.acc_update %[[A0]], %[[D]] at %[[J]] : !kirl.acc<min, 1xf64>, !kir.vec<1xf64, ij>
// CHECK-NEXT:        %[[N1:.*]] = kirl.acc_update %[[A1]], %[[D]] at %[[J]] : !kirl.acc<argmin, 1xf64>, !kir.vec<1xf64, ij>
// CHECK-NEXT:        scf.yield %[[N0]], %[[N1]] : !kirl.acc<min, 1xf64>, !kirl.acc<argmin, 1xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[R0:.*]] = kirl.acc_finalize %[[MIN]] : !kirl.acc<min, 1xf64> -> !kir.vec<1xf64, i>
// CHECK-NEXT:      kirl.store %[[R0]], 0[%[[I]]] : !kir.vec<1xf64, i>
// CHECK-NEXT:      %[[R1:.*]] = kirl.acc_finalize %[[ARG]] : !kirl.acc<argmin, 1xf64> -> !kir.vec<1xi64, i>
// CHECK-NEXT:      kirl.store %[[R1]], 1[%[[I]]] : !kir.vec<1xi64, i>
// CHECK-NEXT:    }
// CHECK-NEXT:    kirl.return
// CHECK-NEXT:  }
kir.kernel @two_outputs {
  %x = kir.var 0 : !kir.vec<2xf64, i>
  %y = kir.var 1 : !kir.vec<2xf64, j>
  %d = kir.sqdist %x, %y : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<1xf64, ij>
  %lo = kir.reduce min over j %d : !kir.vec<1xf64, ij> -> !kir.vec<1xf64, i>
  %at = kir.reduce argmin over j %d : !kir.vec<1xf64, ij> -> !kir.vec<1xi64, i>
  kir.output %lo, %at : !kir.vec<1xf64, i>, !kir.vec<1xi64, i>
}

/// A sum is linear: the factors of the summed product that do not depend on j (the cotangent
/// e_i of a gradient, its -2, a negation) leave the loop and scale the finalized sum once per
/// row; the loop accumulates b_j exp(-d) (x - y) only, narrow factors multiplied first. A
/// minimum is not linear: its formula stays as it is.
// CHECK-LABEL: kirl.func @linear_sum {
// CHECK:           %[[E:.*]] = kirl.load 3[%[[I:.*]]] : !kir.vec<1xf32, i>
// CHECK:           scf.for
// CHECK:             %[[EXP:.*]] = kir.exp
// CHECK:             %[[DIFF:.*]] = kir.sub
// CHECK:             %[[W:.*]] = kir.mul %{{.*}}, %[[EXP]] : !kir.vec<1xf32, j>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        %[[T:.*]] = kir.mul %[[W]], %[[DIFF]] : !kir.vec<1xf32, ij>, !kir.vec<3xf32, ij> -> !kir.vec<3xf32, ij>
// CHECK-NEXT:        kirl.acc_update %{{.*}}, %[[T]] at
// CHECK:           %[[S:.*]] = kirl.acc_finalize %{{.*}} : !kirl.acc<sum, 3xf32> -> !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[F:.*]] = kir.mul %[[E]], %[[C:.*]] : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
// CHECK-NEXT:      %[[G:.*]] = kir.mul %[[S]], %[[F]] : !kir.vec<3xf32, i>, !kir.vec<1xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[H:.*]] = kir.neg %[[G]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:      kirl.store %[[H]], 0[%[[I]]] : !kir.vec<3xf32, i>
kir.kernel @linear_sum {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %b = kir.var 2 : !kir.vec<1xf32, j>
  %e = kir.var 3 : !kir.vec<1xf32, i>
  %q = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %n = kir.neg %q : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %ex = kir.exp %n : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %eb = kir.mul %e, %b : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %w = kir.mul %eb, %ex : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %two = kir.constant [2.0] : !kir.vec<1xf32, p>
  %w2 = kir.mul %w, %two : !kir.vec<1xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, ij>
  %d = kir.sub %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<3xf32, ij>
  %g = kir.mul %d, %w2 : !kir.vec<3xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<3xf32, ij>
  %m = kir.neg %g : !kir.vec<3xf32, ij> -> !kir.vec<3xf32, ij>
  %r = kir.reduce sum over j %m : !kir.vec<3xf32, ij> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}

// CHECK-LABEL: kirl.func @min_not_factored {
// CHECK:             %[[P:.*]] = kir.mul %{{.*}}, %{{.*}} : !kir.vec<1xf32, i>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:        kirl.acc_update %{{.*}}, %[[P]] at
// CHECK:           kirl.acc_finalize
// CHECK-NEXT:      kirl.store
kir.kernel @min_not_factored {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %e = kir.var 2 : !kir.vec<1xf32, i>
  %q = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %p = kir.mul %e, %q : !kir.vec<1xf32, i>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %r = kir.reduce min over j %p : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}
