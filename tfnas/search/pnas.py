"""PNAS (Liu et al., ECCV 2018): sequential model-based optimisation with a learned predictor.

Two searchers share one mechanism, "train a batch, refit the predictor on everything seen,
rank the candidates, queue the top K":

* ``ProgressiveSearcher`` is the paper's algorithm in its block-cell space
  (``tfnas.spaces.pnas``): train every 1-block cell, fit the predictor, then for b = 2..B
  expand each of the K best b-1-block cells by every possible next block, rank all expansions
  with the predictor, train the top K, refit. The predictor is what makes it cheap: it judges
  b-block cells after having seen only smaller ones.
* ``SMBOSearcher`` is that core for spaces where a partial architecture cannot be evaluated,
  such as NAS-Bench-201's cells (every edge must hold an op): a random first batch, then
  batches of the K unseen architectures the predictor ranks highest among all candidates
  (every feasible architecture when the space is small enough, else a large random sample).

Both are batch-synchronous by nature: a queued batch can be evaluated in parallel (``ready``), the
next one is ranked only once every result of the current one is in, so the history is the same
for any number of workers.

Both keep their whole state in ``get_state`` (history, RNG, the queued batch with the
predictions made for it, the expansion level, per-batch Spearman, and the history lengths at
which the predictor was refitted). A refit is a deterministic function of the searcher's seed,
the history and those lengths (warm-started refits continue from the previous one; a restored
searcher's predictor replays them: ``Surrogate.refit``), so a restored search proposes exactly
what an uninterrupted one would.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tfnas.search.api import Architecture, CategoricalSpace, Searcher, SearchSpaceError
from tfnas.search.surrogates import CategoricalTokens, Surrogate, TokenEncoder, spearman
from tfnas.spaces.pnas import DEFAULT_MAX_BLOCKS, PnasGenotype, PnasTokens, all_one_block_cells

SurrogateFactory = Callable[[TokenEncoder], Surrogate]


def measured_tabular_surrogate(encoder: TokenEncoder) -> Surrogate:
    """The SMBO default: an MLP ensemble of 5 regressing ranks (measured on NAS-Bench-201, docs/BENCHMARKS.md)."""
    return Surrogate(encoder, ("mlp",), mlp={"target_transform": "rank"})


def paper_surrogate(encoder: TokenEncoder) -> Surrogate:
    """The progressive search's default, PNAS' predictor: LSTM and MLP ensembles of 5 regressing the
    accuracy (scaled into the sigmoid's range), their mean ranking the candidates."""
    config = {"target_transform": "minmax"}
    return Surrogate(encoder, ("lstm", "mlp"), lstm=config, mlp=config)


class _SurrogateBatchSearcher(Searcher):
    """Proposals come from a queue of predicted-best batches; a new batch is ranked when it empties."""

    def __init__(self, space: CategoricalSpace, objective: str, seed: int, mode: str,
                 encoder: TokenEncoder, surrogate_factory: SurrogateFactory):
        super().__init__(space, objective, seed, mode)
        self.encoder = encoder
        self._surrogate_factory = surrogate_factory
        self._surrogate: Surrogate | None = None
        self.queue: list[dict[str, Any]] = []  # [{"arch", "predicted": {kind: value}}] not yet proposed
        self.batch: list[dict[str, Any]] = []  # the current batch, with "measured" filled in by tell
        self.num_batches = 0
        self.spearman_log: list[dict[str, Any]] = []  # one entry per finished predicted batch
        self.fit_sizes: list[int] = []  # number of results at each predictor refit so far
        self._seen: set[str] = set()

    # --- to implement -------------------------------------------------------------------------------
    def _next_batch(self) -> list[dict[str, Any]]:
        """The next batch to evaluate: [{"arch", "predicted": {kind: value} or {}}]."""
        raise NotImplementedError

    # --- proposals -------------------------------------------------------------------------------------
    @property
    def surrogate(self) -> Surrogate:
        if self._surrogate is None:  # built lazily: tabular runs that never refit stay TF-free
            self._surrogate = self._surrogate_factory(self.encoder)
        return self._surrogate

    def ready(self, asynchronous: bool = False) -> int:
        """The rest of the queued batch; once it is all told, the next batch (ranked now)."""
        if not self.queue and not self.outstanding and not self.finished:
            self._start_batch(self._next_batch())  # what the next proposal would do
        return len(self.queue)

    def _propose(self) -> Architecture:
        if not self.queue:
            if self.finished:
                raise SearchSpaceError(f"{self.name} has finished its search; nothing more to propose")
            self._start_batch(self._next_batch())
        item = self.queue.pop(0)
        return dict(item["arch"])

    def _key(self, arch: Architecture) -> str:
        return self.space.key(arch)

    def _start_batch(self, items: list[dict[str, Any]]) -> None:
        if not items:
            raise SearchSpaceError(f"{self.name}: no unseen architecture is left to propose "
                                   f"({len(self.history)} evaluated); the space is exhausted")
        self.num_batches += 1
        self.queue = [dict(item) for item in items]
        self.batch = [{**dict(item), "measured": None} for item in items]

    def _fit_surrogate(self) -> Surrogate:
        archs = [h["arch"] for h in self.history]
        targets = [self.score(h["metrics"]) for h in self.history]
        if not self.fit_sizes or self.fit_sizes[-1] != len(self.history):
            self.fit_sizes.append(len(self.history))
        # A function of (seed, history, fit sizes): a restored search refits identically.
        return self.surrogate.refit(archs, targets, self.fit_sizes, seed=int(self.seed))

    def _predict(self, archs: Sequence[Architecture]) -> dict[str, np.ndarray]:
        return self.surrogate.predict_by_kind(archs)

    # --- results ------------------------------------------------------------------------------------------
    def tell(self, arch: Architecture, metrics: Mapping[str, float]) -> None:
        super().tell(arch, metrics)
        key = self._key(arch)
        self._seen.add(key)
        for item in self.batch:
            if item["measured"] is None and self._key(item["arch"]) == key:
                item["measured"] = self.score(metrics)
                break
        if self.batch and all(item["measured"] is not None for item in self.batch):
            self._log_batch_spearman()

    def _log_batch_spearman(self) -> None:
        """PNAS judges its predictor by the rank correlation on each newly trained batch."""
        measured = [item["measured"] for item in self.batch]
        kinds = sorted(k for k in self.batch[0]["predicted"] if k != "ensemble")
        if len(kinds) > 1:  # with one kind, "ensemble" is that kind
            kinds.append("ensemble")
        if kinds:  # the random first batch has no predictions
            entry = {"batch": self.num_batches, "evaluated": len(self.history)}
            entry.update({k: spearman([item["predicted"][k] for item in self.batch], measured) for k in kinds})
            self.spearman_log.append(entry)
        self.batch = []

    # --- state -----------------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "queue": [dict(i) for i in self.queue], "batch": [dict(i) for i in self.batch],
                "num_batches": self.num_batches, "spearman_log": [dict(e) for e in self.spearman_log],
                "fit_sizes": list(self.fit_sizes)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self.queue = [dict(i) for i in state["queue"]]
        self.batch = [dict(i) for i in state["batch"]]
        self.num_batches = int(state["num_batches"])
        self.spearman_log = [dict(e) for e in state["spearman_log"]]
        self.fit_sizes = [int(n) for n in state.get("fit_sizes", [])]  # absent in states of earlier versions
        self._seen = {self._key(h["arch"]) for h in self.history}


class SMBOSearcher(_SurrogateBatchSearcher):
    """PNAS' SMBO core for spaces without partial architectures (tabular NAS-Bench-201).

    Args:
      batch_size: K, architectures evaluated per predictor refit.
      initial_size: size of the random first batch (before any predictor exists).
      surrogate_factory: ``encoder -> Surrogate``; default ``measured_tabular_surrogate`` (MLP ensemble
        of 5, rank targets).
      max_enumerate: enumerate every feasible architecture as a candidate when the space has at
        most this many, else rank ``num_candidates`` random feasible ones per batch.
    """

    name = "pnas_smbo"

    def __init__(self, space: CategoricalSpace, objective: str, seed: int = 0, mode: str = "max",
                 batch_size: int = 10, initial_size: int = 20, surrogate_factory: SurrogateFactory | None = None,
                 encoder: TokenEncoder | None = None, max_enumerate: int = 200_000, num_candidates: int = 20_000):
        super().__init__(space, objective, seed, mode, encoder or CategoricalTokens(space),
                         surrogate_factory or measured_tabular_surrogate)
        if batch_size < 1 or initial_size < 1:
            raise ValueError(f"batch_size and initial_size must be >= 1, got {batch_size}, {initial_size}")
        self.batch_size = batch_size
        self.initial_size = initial_size
        self.max_enumerate = max_enumerate
        self.num_candidates = num_candidates
        self._pool: list[Architecture] | None = None
        self._pool_keys: list[str] = []
        self._pool_tokens = np.zeros((0, self.encoder.max_len), np.int32)

    def candidate_pool(self) -> list[Architecture] | None:
        """Every feasible architecture (cached), or None when the space is too large to enumerate."""
        if self._pool is None and self.space.size <= self.max_enumerate:
            sizes = [len(c.options) for c in self.space.choices]
            archs = (self.space.decode(ix) for ix in itertools.product(*(range(s) for s in sizes)))
            self._pool = [a for a in archs if self.space.feasible(a)]
            if not self._pool:
                raise SearchSpaceError(f"no architecture satisfies the constraints "
                                       f"{[c.name for c in self.space.constraints]}; relax them")
            # Encoded once: every refit ranks the same pool, only the unseen mask changes.
            self._pool_keys = [self.space.key(a) for a in self._pool]
            self._pool_tokens = self.encoder.encode(self._pool)
        return self._pool

    def _unseen_pool_indices(self) -> np.ndarray:
        return np.array([i for i, key in enumerate(self._pool_keys) if key not in self._seen], np.int64)

    def _random_unseen(self, count: int) -> list[Architecture]:
        pool = self.candidate_pool()
        if pool is not None:
            unseen = self._unseen_pool_indices()
            picks = self.rng.choice(len(unseen), size=min(count, len(unseen)), replace=False)
            return [pool[int(unseen[i])] for i in picks]
        out, keys = [], set()
        for _ in range(count * 100):
            if len(out) == count:
                break
            arch = self.space.sample(self.rng)
            key = self.space.key(arch)
            if key not in self._seen and key not in keys:
                keys.add(key)
                out.append(arch)
        return out

    def _next_batch(self) -> list[dict[str, Any]]:
        if not self.history:
            return [{"arch": a, "predicted": {}} for a in self._random_unseen(self.initial_size)]
        pool = self.candidate_pool()
        if pool is not None:
            unseen = self._unseen_pool_indices()
            if len(unseen) == 0:
                return []
            candidates = [pool[int(i)] for i in unseen]
            tokens = self._pool_tokens[unseen]
        else:  # too large to enumerate: rank a fresh random sample of unseen architectures
            candidates = self._random_unseen(self.num_candidates)
            tokens = self.encoder.encode(candidates)
        self._fit_surrogate()
        predicted = self.surrogate.predict_by_kind(tokens=tokens)
        top = np.argsort(-predicted["ensemble"], kind="stable")[: self.batch_size]
        return [{"arch": candidates[int(i)], "predicted": {k: float(v[i]) for k, v in predicted.items()}}
                for i in top]

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "batch_size": self.batch_size, "initial_size": self.initial_size}

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        for key in ("batch_size", "initial_size"):
            if state.get(key, getattr(self, key)) != getattr(self, key):
                raise ValueError(f"state was saved with {key}={state[key]}, this searcher has {getattr(self, key)}; "
                                 "resume with the same settings")


class ProgressiveSearcher(_SurrogateBatchSearcher):
    """PNAS' progressive search in its block-cell space (architectures are {"blocks": [...]}).

    Level 1 trains every distinct 1-block cell (136; ``initial_cells`` trains a random subset
    instead, for budget-limited runs). Each later level b: the ``beam_size`` (K) best measured
    (b-1)-block cells are expanded by every distinct next block, the predictor (refitted on
    every result so far) ranks the unseen expansions, and the top K are trained. The search
    finishes after level ``max_blocks`` (B); with the paper's B = 5, K = 256 that is
    136 + 4 x 256 = 1,160 trained cells. The default predictor is the paper's (``paper_surrogate``).
    """

    name = "pnas"

    def __init__(self, objective: str, seed: int = 0, mode: str = "max", max_blocks: int = DEFAULT_MAX_BLOCKS,
                 beam_size: int = 256, surrogate_factory: SurrogateFactory | None = None,
                 initial_cells: int | None = None):
        if max_blocks < 1 or beam_size < 1:
            raise ValueError(f"max_blocks (B) and beam_size (K) must be >= 1, got {max_blocks}, {beam_size}")
        if initial_cells is not None and initial_cells < 1:
            raise ValueError(f"initial_cells must be >= 1 (or None for all 136), got {initial_cells}")
        # The space is implicit (tfnas.spaces.pnas); there is no CategoricalSpace of variable-size cells.
        super().__init__(None, objective, seed, mode, PnasTokens(max_blocks),  # type: ignore[arg-type]
                         surrogate_factory or paper_surrogate)
        self.max_blocks = max_blocks
        self.beam_size = beam_size
        self.initial_cells = initial_cells
        self.level = 0  # number of blocks of the cells queued last

    def _key(self, arch: Architecture) -> str:
        return PnasGenotype.from_arch(arch).key()

    @property
    def finished(self) -> bool:
        return self.level >= self.max_blocks and not self.queue

    def _next_batch(self) -> list[dict[str, Any]]:
        if self.level == 0:
            cells = all_one_block_cells()
            if self.initial_cells is not None and self.initial_cells < len(cells):
                picks = sorted(int(i) for i in self.rng.choice(len(cells), size=self.initial_cells, replace=False))
                cells = [cells[i] for i in picks]
            self.level = 1
            return [{"arch": c.to_arch(), "predicted": {}} for c in cells]
        candidates = self.expansions()
        self.level += 1
        if not candidates:
            return []
        self._fit_surrogate()
        predicted = self._predict(candidates)
        top = np.argsort(-predicted["ensemble"], kind="stable")[: self.beam_size]
        return [{"arch": candidates[int(i)], "predicted": {k: float(v[i]) for k, v in predicted.items()}}
                for i in top]

    def survivors(self) -> list[PnasGenotype]:
        """The K best measured cells of the current level (the beam that is expanded next)."""
        level = [h for h in self.history if len(h["arch"]["blocks"]) == self.level]
        level.sort(key=lambda h: -self.score(h["metrics"]))  # stable: ties keep evaluation order
        return [PnasGenotype.from_arch(h["arch"]) for h in level[: self.beam_size]]

    def expansions(self) -> list[Architecture]:
        """Every distinct unseen cell one block larger than a survivor."""
        out, keys = [], set()
        for cell in self.survivors():
            for child in cell.expand(unique=True):
                key = child.key()
                if key not in keys and key not in self._seen:
                    keys.add(key)
                    out.append(child.to_arch())
        return out

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "level": self.level, "max_blocks": self.max_blocks,
                "beam_size": self.beam_size, "initial_cells": self.initial_cells}

    def set_state(self, state: Mapping[str, Any]) -> None:
        for key in ("max_blocks", "beam_size", "initial_cells"):
            if state.get(key, getattr(self, key)) != getattr(self, key):
                raise ValueError(f"state was saved with {key}={state[key]}, this searcher has {getattr(self, key)}; "
                                 "resume with the same settings")
        super().set_state(state)
        self.level = int(state["level"])
