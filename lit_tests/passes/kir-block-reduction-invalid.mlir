// A block size below 1 is a one-line kir-opt error, not a traceback.
// RUN: not kir-opt %s -p 'kir-block-reduction{block=0}' 2>&1 | filecheck %s

/// block=0 is refused with a one-line error.
// CHECK: kir-opt: error: kir-block-reduction: block must be >= 1, got 0
// CHECK-NOT: Traceback
kirl.func @gaussian {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %begin to %end step %c1 {
    %init = kirl.acc_init : !kirl.acc<sum, 1xf32>
    %acc = scf.for %j = %c0 to %reduced step %c1 iter_args(%a = %init) -> (!kirl.acc<sum, 1xf32>) {
      %y = kirl.load 1[%j] : !kir.vec<1xf32, j>
      %next = kirl.acc_update %a, %y at %j : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, j>
      scf.yield %next : !kirl.acc<sum, 1xf32>
    }
    %r = kirl.acc_finalize %acc : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
    kirl.store %r, 0[%i] : !kir.vec<1xf32, i>
  }
  kirl.return
}
