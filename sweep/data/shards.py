"""Each DDP rank's share of the training batches: every rank draws the same batches, keeps every n-th.

Why not Lightning's distributed sampler (``use_distributed_sampler``): it wraps our samplers in a
``DistributedSamplerWrapper`` that reshuffles the rows they yield, which undoes the length grouping of
text batches (sweep/data/loaders.py) and would split image batches, which come as one item each
(sweep/data/images.py). Here the batches stay as the loader makes them: all ranks draw the same sequence
(same seed, same generator state) and rank r keeps batches r, r + n, r + 2n, ...

Every rank gets the same number of batches (a rank that runs out first would leave the others waiting
in a gradient all-reduce forever): the last ``len % n`` batches of an epoch are dropped, at most n - 1.
Validation and test loaders are not sharded: every rank evaluates the whole split, so the metrics are
those of the whole split and the same on every rank.
"""

from __future__ import annotations

from torch.utils.data import DataLoader, Sampler


class ShardedBatches(Sampler):
    """Of ``batches`` (a batch sampler, or a sampler yielding one key per batch), rank ``rank``'s share."""

    def __init__(self, batches, rank: int, world_size: int):
        self.batches, self.rank, self.world_size = batches, rank, world_size
        self.sampler = getattr(batches, "sampler", None)  # Lightning calls set_epoch on batch_sampler.sampler

    def __len__(self) -> int:
        return len(self.batches) // self.world_size

    def __iter__(self):
        keep = len(self) * self.world_size
        for index, batch in enumerate(self.batches):  # drawn in full on every rank: generators stay in step
            if index < keep and index % self.world_size == self.rank:
                yield batch

    def set_epoch(self, epoch: int) -> None:
        if callable(getattr(self.batches, "set_epoch", None)):
            self.batches.set_epoch(epoch)


def sharded(loader: DataLoader, rank: int, world_size: int) -> DataLoader:
    """``loader`` drawing only rank ``rank``'s share of its batches (itself when there is one rank)."""
    if world_size == 1:
        return loader
    options = {"collate_fn": loader.collate_fn, "num_workers": loader.num_workers, "pin_memory": loader.pin_memory}
    if loader.batch_sampler is not None:  # rows batched by the loader: shard its batches of indices
        return DataLoader(loader.dataset, batch_sampler=ShardedBatches(loader.batch_sampler, rank, world_size), **options)
    # the sampler yields whole batches (images: one index array each), the loader adds no batching
    return DataLoader(loader.dataset, sampler=ShardedBatches(loader.sampler, rank, world_size), batch_size=None, **options)
