// RUN: kir-opt %s -t llvm | filecheck %s

// The CPU back-end on hand-written loop-level IR (`-t llvm`): every kirl.func becomes
//   void @name(i64 begin, i64 end, i64 reduced, ptr args, ptr outs)
// with one LLVM loop per scf.for, loop-carried values as phi nodes, and the reduction rule
// of each state inlined (here: max, whose initial state is -inf).

/// A parameter-scaled scalar product, reduced with max over j.
// CHECK-LABEL: define void @{{"?}}scaled_max{{"?}}(
// CHECK-SAME:    i64 %[[BEGIN:[^,]*]], i64 %[[END:[^,]*]], i64 %[[REDUCED:[^,]*]], ptr %[[ARGS:[^,]*]], ptr %[[OUTS:[^,)]*]])
// CHECK:       entry:
/// The parameter (argument 2) is loaded once, before any loop.
// CHECK:         %[[PPTR:.*]] = getelementptr ptr, ptr %[[ARGS]], i64 2
// CHECK-NEXT:    %[[PARR:.*]] = load ptr, ptr %[[PPTR]]
// CHECK:         %[[S:.*]] = load float, ptr %{{.*}}
// CHECK-NEXT:    br label %{{"?}}loop{{"?}}
/// Output rows: i from begin while i < end.
// CHECK:       loop:
// CHECK-NEXT:    %[[I:.*]] = phi i64 [%[[BEGIN]], %{{"?}}entry{{"?}}], [%{{.*}}, %{{.*}}]
// CHECK-NEXT:    %{{.*}} = icmp slt i64 %[[I]], %[[END]]
/// x[i] (two entries) is loaded in the outer loop's body.
// CHECK:       body:
// CHECK-NEXT:    %[[ROW:.*]] = mul i64 %[[I]], 2
// CHECK:         %[[X0:.*]] = load float
// CHECK-NEXT:    %[[X1:.*]] = load float
// CHECK:       done:
// CHECK-NEXT:    ret void
/// The reduced index j from 0, and the max state starting at -inf.
// CHECK:       loop.1:
// CHECK-NEXT:    %[[J:.*]] = phi i64 [0, %{{.*}}], [%{{.*}}, %{{.*}}]
// CHECK-NEXT:    %[[ACC:.*]] = phi float [0xfff0000000000000, %{{.*}}], [%[[NEXT:.*]], %{{.*}}]
// CHECK-NEXT:    %{{.*}} = icmp slt i64 %[[J]], %[[REDUCED]]
/// <x, y> * s, then max(acc, value) as compare and select.
// CHECK:       body.1:
// CHECK:         %[[Y0:.*]] = load float
// CHECK-NEXT:    %[[Y1:.*]] = load float
// CHECK-NEXT:    %[[P0:.*]] = fmul float %[[X0]], %[[Y0]]
// CHECK-NEXT:    %[[P1:.*]] = fmul float %[[X1]], %[[Y1]]
// CHECK-NEXT:    %[[DOT:.*]] = fadd float %[[P0]], %[[P1]]
// CHECK-NEXT:    %[[V:.*]] = fmul float %[[DOT]], %[[S]]
// CHECK-NEXT:    %[[GT:.*]] = fcmp ogt float %[[V]], %[[ACC]]
// CHECK-NEXT:    %[[NEXT]] = select i1 %[[GT]], float %[[V]], float %[[ACC]]
/// The finalized state is stored to outs[0] at row i.
// CHECK:       done.1:
// CHECK:         store float %[[ACC]], ptr %{{.*}}
kirl.func @scaled_max {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %s = kirl.load 2 : !kir.vec<1xf32, p>
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<2xf32, i>
    %init = kirl.acc_init : !kirl.acc<max, 1xf32>
    %acc = scf.for %j = %c0 to %reduced step %c1 iter_args(%a = %init) -> (!kirl.acc<max, 1xf32>) {
      %y = kirl.load 1[%j] : !kir.vec<2xf32, j>
      %d = kir.scalprod %x, %y : !kir.vec<2xf32, i>, !kir.vec<2xf32, j> -> !kir.vec<1xf32, ij>
      %m = kir.mul %d, %s : !kir.vec<1xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, ij>
      %next = kirl.acc_update %a, %m at %j : !kirl.acc<max, 1xf32>, !kir.vec<1xf32, ij>
      scf.yield %next : !kirl.acc<max, 1xf32>
    }
    %r = kirl.acc_finalize %acc : !kirl.acc<max, 1xf32> -> !kir.vec<1xf32, i>
    kirl.store %r, 0[%i] : !kir.vec<1xf32, i>
  }
  kirl.return
}

/// A Gaussian sum in float64: exp becomes a call to the llvm.exp.f64 intrinsic, the sum state
/// a double phi starting at 0, updated with fadd.
// CHECK-LABEL: define void @{{"?}}gaussian64{{"?}}(i64 %{{[^,]*}}, i64 %{{[^,]*}}, i64 %{{[^,]*}}, ptr %{{[^,]*}}, ptr %{{[^,]*}})
// CHECK:       loop.1:
// CHECK-NEXT:    %{{.*}} = phi i64 [0, %{{.*}}], [%{{.*}}, %{{.*}}]
// CHECK-NEXT:    %[[SUM:.*]] = phi double [{{ *}}0x0, %{{.*}}], [%[[NEW:.*]], %{{.*}}]
// CHECK:       body.1:
// CHECK:         %[[NEG:.*]] = fneg double %{{.*}}
// CHECK-NEXT:    %[[E:.*]] = call double @{{"?}}llvm.exp.f64{{"?}}(double %[[NEG]])
// CHECK-NEXT:    %[[NEW]] = fadd double %[[SUM]], %[[E]]
// CHECK:       done.1:
// CHECK:         store double %[[SUM]], ptr %{{.*}}
// CHECK:       declare double @{{"?}}llvm.exp.f64{{"?}}(double
kirl.func @gaussian64 {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<3xf64, i>
    %init = kirl.acc_init : !kirl.acc<sum, 1xf64>
    %acc = scf.for %j = %c0 to %reduced step %c1 iter_args(%a = %init) -> (!kirl.acc<sum, 1xf64>) {
      %y = kirl.load 1[%j] : !kir.vec<3xf64, j>
      %d = kir.sqdist %x, %y : !kir.vec<3xf64, i>, !kir.vec<3xf64, j> -> !kir.vec<1xf64, ij>
      %n = kir.neg %d : !kir.vec<1xf64, ij> -> !kir.vec<1xf64, ij>
      %k = kir.exp %n : !kir.vec<1xf64, ij> -> !kir.vec<1xf64, ij>
      %next = kirl.acc_update %a, %k at %j : !kirl.acc<sum, 1xf64>, !kir.vec<1xf64, ij>
      scf.yield %next : !kirl.acc<sum, 1xf64>
    }
    %r = kirl.acc_finalize %acc : !kirl.acc<sum, 1xf64> -> !kir.vec<1xf64, i>
    kirl.store %r, 0[%i] : !kir.vec<1xf64, i>
  }
  kirl.return
}
