// RUN: kir-opt %s -p 'kir-tile-rows{rows=2}' | filecheck %s
// RUN: kir-opt %s -p 'kir-tile-rows{rows=2},kir-tile-rows{rows=2}' | filecheck %s
// RUN: kir-opt %s -p 'kir-tile-rows{rows=3},cse' | filecheck %s --check-prefix=THREE

// kir-tile-rows: the row loop runs over whole tiles of `rows` rows (marked {kirl.rows}); its
// body is unrolled and jammed: what depends on the row (x_i, the states, the sqdist) is
// computed per row of the tile, what depends only on j (y_j, its norm) once for all rows, and
// the rows' column sums are added together before one kirl.accumulate. The (end - begin) %
// rows rows left run one by one in the original loop, after the tiles (marked rows = 1).
// Twice the pass = once (second RUN line).

/// A value over j and a column sum over i, in one pass.
// CHECK-LABEL: kirl.func @value_and_column_sum {
// CHECK-NEXT:  ^bb0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[REDUCED:.*]]: index):
// CHECK:         %[[TWO:.*]] = arith.constant 2 : index
// CHECK-NEXT:    %[[COUNT:.*]] = arith.subi %[[END]], %[[BEGIN]] : index
// CHECK-NEXT:    %[[LEFT:.*]] = arith.remui %[[COUNT]], %[[TWO]] : index
// CHECK-NEXT:    %[[TILES_END:.*]] = arith.subi %[[END]], %[[LEFT]] : index
// CHECK-NEXT:    scf.for %[[I0:.*]] = %[[BEGIN]] to %[[TILES_END]] step %[[TWO]] {
// CHECK-NEXT:      %[[ONE:.*]] = arith.constant 1 : index
// CHECK-NEXT:      %[[ROW1:.*]] = arith.addi %[[I0]], %[[ONE]] : index
// CHECK-NEXT:      %[[X0:.*]] = kirl.load 0[%[[I0]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[X1:.*]] = kirl.load 0[%[[ROW1]]] : !kir.vec<3xf32, i>
// CHECK-NEXT:      %[[INIT:.*]] = kirl.acc_init : !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      %[[ACC0:.*]], %[[ACC1:.*]] = scf.for %[[J:.*]] = %{{.*}} to %[[REDUCED]] step %{{.*}} iter_args(%[[A0:.*]] = %[[INIT]], %[[A1:.*]] = %[[INIT]]) -> (!kirl.acc<sum, 1xf32>, !kirl.acc<sum, 1xf32>) {
// CHECK-NEXT:        %[[Y:.*]] = kirl.load 1[%[[J]]] : !kir.vec<3xf32, j>
// CHECK-NEXT:        %[[NY:.*]] = kir.sqnorm2 %[[Y]] : !kir.vec<3xf32, j> -> !kir.vec<1xf32, j>
// CHECK-NEXT:        %[[D0:.*]] = kir.sqdist %[[X0]], %[[Y]]
// CHECK-NEXT:        %[[D1:.*]] = kir.sqdist %[[X1]], %[[Y]]
// CHECK-NEXT:        %[[N0:.*]] = kirl.acc_update %[[A0]], %[[D0]] at %[[J]]
// CHECK-NEXT:        %[[N1:.*]] = kirl.acc_update %[[A1]], %[[D1]] at %[[J]]
// CHECK-NEXT:        %[[BOTH:.*]] = kir.add %[[NY]], %[[NY]] : !kir.vec<1xf32, j>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, j>
// CHECK-NEXT:        kirl.accumulate %[[BOTH]], 1[%[[J]]] : !kir.vec<1xf32, j>
// CHECK-NEXT:        scf.yield %[[N0]], %[[N1]] : !kirl.acc<sum, 1xf32>, !kirl.acc<sum, 1xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[R0:.*]] = kirl.acc_finalize %[[ACC0]]
// CHECK-NEXT:      %[[R1:.*]] = kirl.acc_finalize %[[ACC1]]
// CHECK-NEXT:      kirl.store %[[R0]], 0[%[[I0]]] : !kir.vec<1xf32, i>
// CHECK-NEXT:      kirl.store %[[R1]], 0[%[[ROW1]]] : !kir.vec<1xf32, i>
// CHECK-NEXT:    } {kirl.rows = 2 : index}
// CHECK-NEXT:    scf.for %[[I:.*]] = %[[TILES_END]] to %[[END]] step %{{.*}} {
// CHECK-NEXT:      kirl.load 0[%[[I]]] : !kir.vec<3xf32, i>
// CHECK:           kirl.accumulate %{{.*}}, 1[%{{.*}}] : !kir.vec<1xf32, j>
// CHECK:         } {kirl.rows = 1 : index}

/// Three rows: three sqdists and updates share one load of y_j.
// THREE-LABEL: kirl.func @value_and_column_sum {
// THREE:         kirl.load 1
// THREE-NOT:     kirl.load 1
// THREE-COUNT-3: kir.sqdist
// THREE:         } {kirl.rows = 3 : index}
kirl.func @value_and_column_sum {
^bb0(%begin: index, %end: index, %reduced: index):
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %begin to %end step %c1 {
    %x = kirl.load 0[%i] : !kir.vec<3xf32, i>
    %init = kirl.acc_init : !kirl.acc<sum, 1xf32>
    %acc = scf.for %j = %c0 to %reduced step %c1 iter_args(%a = %init) -> (!kirl.acc<sum, 1xf32>) {
      %y = kirl.load 1[%j] : !kir.vec<3xf32, j>
      %ny = kir.sqnorm2 %y : !kir.vec<3xf32, j> -> !kir.vec<1xf32, j>
      %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
      %next = kirl.acc_update %a, %d at %j : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
      kirl.accumulate %ny, 1[%j] : !kir.vec<1xf32, j>
      scf.yield %next : !kirl.acc<sum, 1xf32>
    }
    %r = kirl.acc_finalize %acc : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
    kirl.store %r, 0[%i] : !kir.vec<1xf32, i>
  }
  kirl.return
}
