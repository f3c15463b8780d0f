"""Fusion planning: which reductions of one (i, j) domain to compute in the same pass.

A kernel is one pass over the pairs (i, j): the outer loop runs over its row index, the inner
loop over the reduced index, and every reduction in it reads its inputs from the same loads.
Reductions that read the same variables gain most from sharing a pass: each input row is
loaded once instead of once per kernel, and hash-consed subexpressions (frontends/expr.py: a
subexpression written twice is one node) are computed once per pair. Sharing is transitive:
if A and B read x and B and C read y, one pass over the three reads x and y once each. This is
connectivity in a bipartite dependency graph, one node per reduction and one per input
variable, an edge where a reduction reads a variable; its connected components are the
candidate passes, and networkx computes them.

A pass must also be a valid `Kernel` (kir/kernel.py): it has one row axis, that of its first
reduction, and only "sum" reductions may reduce over the other axis (column sums, accumulated
in place into their output rows in the same pass). So a component whose non-sum reductions
reduce over both axes is split by axis, each part then regrouped by the inputs its own members
share; sums go to the part of their own axis (a row sum carries a state in registers, cheaper
than a column sum's read-modify-write of an output row).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from kir.builder import Reduction
from kir.dialect.formula import VarOp


def dependency_graph(reductions: Sequence[Reduction]) -> nx.Graph:
    """Nodes ("reduction", k) and ("variable", position); an edge where reduction k reads the
    variable (in its formula or its weights)."""
    graph = nx.Graph()
    for k, reduction in enumerate(reductions):
        graph.add_node(("reduction", k))
        for root in reduction.roots:
            for node in root.walk():
                if node.op is VarOp:
                    graph.add_edge(("reduction", k), ("variable", node.attributes["index"]))
    return graph


def plan_fusion(reductions: Sequence[Reduction]) -> list[list[int]]:
    """Groups of indices into `reductions`, each computable as one kernel (one pass).

    Every reduction is in exactly one group. A group's first member reduces over the group's
    row axis (the one a `Kernel` takes from its first reduction); row-axis members come first,
    then the column sums, each in index order. Groups are ordered by their smallest index. The
    row axis of a group is that of its non-sum members; for a group of sums only, that of its
    lowest-index member (callers order their reductions to choose it).
    """
    graph = dependency_graph(reductions)
    groups: list[list[int]] = []
    for component in nx.connected_components(graph):
        members = sorted(k for kind, k in component if kind == "reduction")
        non_sum_axes = {reductions[k].axis for k in members if reductions[k].kind != "sum"}
        if len(non_sum_axes) <= 1:
            groups.append(members)
            continue
        # Row reductions over both axes cannot share a pass: one pass per axis, each regrouped
        # by the inputs that its own members share.
        for axis in sorted(non_sum_axes):
            part = [("reduction", k) for k in members if reductions[k].axis == axis]
            inputs = {v for node in part for v in graph.neighbors(node)}
            for sub in nx.connected_components(graph.subgraph([*part, *inputs])):
                groups.append(sorted(k for kind, k in sub if kind == "reduction"))
    return [_row_axis_first(group, reductions) for group in sorted(groups, key=min)]


def row_axis(group: Sequence[int], reductions: Sequence[Reduction]) -> int:
    """The axis a group reduces its rows over: its non-sums', else its first member's."""
    for k in group:
        if reductions[k].kind != "sum":
            return reductions[k].axis
    return reductions[min(group)].axis


def _row_axis_first(group: list[int], reductions: Sequence[Reduction]) -> list[int]:
    axis = row_axis(group, reductions)
    return [k for k in group if reductions[k].axis == axis] + [k for k in group if reductions[k].axis != axis]
