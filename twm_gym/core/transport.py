"""The transport network: a ``networkx.DiGraph`` of aggregation nodes and directed links, and routing.

Each aggregation node sends its cells' traffic to the hub along a shortest surviving path (hop
count; ties broken by link order). A failed link is removed from the graph and traffic is rerouted,
e.g. a node whose spoke fails falls back to its ring neighbour (dual homing). Traffic of a node
with no surviving path to the hub is lost and counted as *unroutable*.

Routes depend on the batch's link-up pattern only, so they are tabulated per pattern (a bit mask
over the ``L`` links) and looked up in the hot path; a pattern is routed with networkx the first
time it is seen.
"""

from __future__ import annotations

import itertools
import threading

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from twm_gym.core.params import TransportParams


def build_graph(params: TransportParams) -> nx.DiGraph:
    """The transport graph; edges carry ``index`` (link number) and ``capacity_gbps``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(params.nodes)
    for i, link in enumerate(params.links):
        graph.add_edge(link.src, link.dst, index=i, capacity_gbps=link.capacity_gbps)
    return graph


class RoutingTable:
    """Routes of every aggregation node for every link-up pattern, filled lazily.

    ``routes(up)`` returns ``(B, N, L)`` float32 incidence (1 where node ``n``'s path uses link ``l``)
    and ``(B, N)`` float32 reachability for a ``(B, L)`` boolean link-up array. Node axis ``N`` runs
    over the non-hub nodes in ``params.nodes`` order.
    """

    def __init__(self, params: TransportParams) -> None:
        self.params = params
        self.graph = build_graph(params)
        self.sources = tuple(n for n in params.nodes if n != params.hub)
        n_links = len(params.links)
        self._weights = (np.uint64(1) << np.arange(n_links, dtype=np.uint64)).astype(np.uint64)
        self._incidence = np.zeros((2**n_links, len(self.sources), n_links), dtype=np.float32)
        self._reach = np.zeros((2**n_links, len(self.sources)), dtype=np.float32)
        self._done = np.zeros(2**n_links, dtype=bool)
        self._lock = threading.Lock()  # the twin may route batch chunks from several threads

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["_lock"]  # locks do not pickle; a fresh one is made on load
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def pattern(self, up: NDArray[np.bool_]) -> NDArray[np.int64]:
        """``(B,)`` integer code of each link-up pattern (bit ``l`` set when link ``l`` is up)."""
        return (up.astype(np.uint64) @ self._weights).astype(np.int64)

    def _fill(self, code: int) -> None:
        graph = self.graph.copy()
        for i, link in enumerate(self.params.links):
            if not (code >> i) & 1:
                graph.remove_edge(link.src, link.dst)
        for n, node in enumerate(self.sources):
            try:
                path = nx.shortest_path(graph, node, self.params.hub)
            except nx.NetworkXNoPath:
                continue
            self._reach[code, n] = 1.0
            for u, v in itertools.pairwise(path):
                self._incidence[code, n, graph.edges[u, v]["index"]] = 1.0
        self._done[code] = True

    def routes(self, up: NDArray[np.bool_]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        codes = self.pattern(up)
        if not self._done[codes].all():
            with self._lock:
                for code in np.unique(codes[~self._done[codes]]).tolist():  # once per process
                    if not self._done[code]:
                        self._fill(code)
        return self._incidence[codes], self._reach[codes]

    def path(self, node: str, up: NDArray[np.bool_]) -> list[int] | None:
        """Link indices of ``node``'s route for one ``(L,)`` link-up pattern; None when unroutable."""
        inc, reach = self.routes(up[None, :])
        n = self.sources.index(node)
        if reach[0, n] == 0.0:
            return None
        return [int(i) for i in np.flatnonzero(inc[0, n])]
