"""The frozen prefix of a partially fine-tuned model, computed once per row and then read, not recomputed.

With ``strategy=partial`` the embeddings and the bottom k blocks never change, so their output for a
given row is the same every epoch, every validation and every trial of the same model and depth. This
keeps it: the first time a row is seen, the prefix runs for it (without gradients, in evaluation mode)
and its output at block k is kept; afterwards the bottom k blocks are skipped for that row, and block k
reads the kept output. An epoch then costs in proportion to the blocks that train.

How, for any family, without code per model: hooks. A forward pre-hook on the backbone splits the
batch's rows into kept and new ones (keyed by the row's real token ids, or its pixels); the new rows run
the real prefix up to block k - 1, stopped there by an exception from its forward hook; then, for the
whole batch, the bottom k blocks are replaced by pass-throughs, the last of which returns the kept
outputs. The model's own forward still builds the attention mask, position ids and rotary embeddings
the top blocks need. Padding positions are filled with zeros: the attention mask hides them from the
real ones, and pooling reads only real positions.

One difference from recomputing: the prefix runs without dropout (as in evaluation), where an
uncached train-mode prefix would drop a few of its activations. ``strategy.cache_prefix=false`` turns
the cache off. Kept outputs live where the model runs (GPU memory, for a model on a GPU), and are shared by
the jobs of this process (the trials of a search) of the same model, weights and depth, within a budget of
that device's memory; past it, new rows are computed and not kept. A job of another model or depth, or one
that reads no prefix (full, LoRA, ...), releases them as it is built: a search does not carry one trial's
activations through every later trial.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict

import torch
from torch import nn

log = logging.getLogger("sweep")


class _Stores:
    """Kept outputs by (model, weights, depth, precision), then by row; the least recently used key's go first
    when the budget is reached. Only one job's (model, weights, depth) is kept at a time: start() releases
    the rest, so what a trial kept on a GPU does not stay there through the trials that follow."""

    def __init__(self):
        self.by_key: OrderedDict[tuple, dict[bytes, torch.Tensor]] = OrderedDict()
        self.sizes: dict[tuple, int] = {}
        self.budget: int | None = None  # bytes; None: memory_budget() of the device the outputs live on
        self.job: tuple | None = None  # (model, weights, depth) of the job now using the store
        self.on_cuda = False  # something kept was on a GPU: release() gives its memory back

    def start(self, job: tuple | None) -> None:
        """A job is being built: ``job`` is its (model, weights, depth), None where it reads no prefix. The
        outputs of another are released; the same one's stay, served to this job as to the last."""
        if job != self.job:
            self.clear()
        self.job = job

    def get(self, key: tuple) -> dict[bytes, torch.Tensor]:
        if key not in self.by_key:
            self.by_key[key], self.sizes[key] = {}, 0
        self.by_key.move_to_end(key)
        return self.by_key[key]

    def keep(self, key: tuple, row: bytes, output: torch.Tensor) -> bool:
        size = output.numel() * output.element_size()
        # one job's outputs at a time, so all on one device: its memory is the budget of the whole store
        budget = self.budget if self.budget is not None else memory_budget(output.device)
        while sum(self.sizes.values()) + size > budget and next(iter(self.by_key)) != key:
            oldest = next(iter(self.by_key))
            del self.by_key[oldest], self.sizes[oldest]
        if sum(self.sizes.values()) + size > budget:
            return False
        self.by_key[key][row] = output
        self.sizes[key] += size
        self.on_cuda |= output.is_cuda
        return True

    def clear(self) -> None:
        """Drop every kept output (the store holds the only references) and, for a GPU, hand the memory
        they took back to the driver, for another process on the same GPU (two workers) to use."""
        self.by_key.clear()
        self.sizes.clear()
        self.job = None
        if self.on_cuda:
            torch.cuda.empty_cache()
        self.on_cuda = False


STORES = _Stores()


def release() -> None:
    """Called as a job that reads no frozen prefix is built: nothing an earlier trial kept stays in memory."""
    STORES.start(None)


def memory_budget(device: torch.device | str = "cpu") -> int:
    """Bytes the kept outputs may hold on ``device``: an eighth of its memory, at most 2 GiB (MiniLM-L6's
    output at one depth for the 13,891 Rotten Tomatoes rows takes about 0.5 GiB in fp32). A GPU's own
    memory, not the host's: the model, its gradients and optimizer state and the batch's activations
    share it with them."""
    return min(device_memory(torch.device(device)) // 8, 2 << 30)


def device_memory(device: torch.device) -> int:
    """Total bytes of the memory tensors on ``device`` live in: a GPU's own; the host's for the CPU (and for
    devices that share it, as Apple's MPS does). Tests replace it to fake a device's size."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class _PrefixDone(Exception):
    """Raised by block k - 1's forward hook: the prefix is computed, the rest of the model need not run."""

    def __init__(self, hidden: torch.Tensor):
        self.hidden = hidden


class FrozenPrefix:
    """Hooks that serve the output of ``blocks[:depth]`` from a per-row store."""

    def __init__(self, backbone: nn.Module, blocks: nn.ModuleList, depth: int, key: tuple):
        self.backbone, self.blocks, self.depth, self.key = backbone, blocks, depth, key
        self.serving: torch.Tensor | None = None  # the batch's output at block k while the forward runs
        self.computing = False  # True while new rows run the real prefix, and while bypassed()
        backbone._frozen_prefix = self  # found by bypassed()
        self.hits = self.misses = 0
        for i, block in enumerate(blocks[:depth]):
            block.forward = self._pass_through(block.forward, last=i == depth - 1)
        backbone.register_forward_pre_hook(self._before, with_kwargs=True)
        backbone.register_forward_hook(self._after)

    def _pass_through(self, forward, last: bool):
        def pass_through(*args, **kwargs):
            if self.serving is None:  # computing new rows' prefix (or the cache is not serving this call)
                return forward(*args, **kwargs)
            if last:
                return self.serving
            return args[0] if args else kwargs["hidden_states"]

        return pass_through

    def _store_key(self) -> tuple:
        """The outputs differ with the precision the forward runs in: autocast's dtype is part of the key."""
        modes = [(device, torch.get_autocast_dtype(device)) for device in ("cpu", "cuda") if torch.is_autocast_enabled(device)]
        return (*self.key, self.depth, str(modes))

    def _before(self, module, args, kwargs):
        self.serving = None  # a forward that raised never reached _after: its batch must not be served again
        if self.computing:
            return None
        rows, mask = _rows(kwargs)
        if rows is None:
            return None
        key = self._store_key()
        store = STORES.get(key)
        new = [i for i, row in enumerate(rows) if row not in store]
        self.hits += len(rows) - len(new)
        self.misses += len(new)
        served = {row: store[row] for row in rows if row in store}  # with the new rows below, kept or not (budget)
        if new:
            served.update(self._compute(kwargs, new, rows, mask, key))
        flat = torch.cat([served[row] for row in rows])
        serving = flat.new_zeros((*mask.shape, flat.shape[-1]))
        serving[mask] = flat  # row-major order of the real positions: row by row, as concatenated
        self.serving = serving
        return None

    def _compute(self, kwargs: dict, new: list[int], rows: list[bytes], mask: torch.Tensor, key: tuple) -> dict[bytes, torch.Tensor]:
        """Run the real prefix for the ``new`` rows of the batch; keep their outputs (within the budget)."""
        index = torch.tensor(new, device=mask.device)
        subset = {name: value.index_select(0, index) if torch.is_tensor(value) else value for name, value in kwargs.items()}
        stop = self.blocks[self.depth - 1].register_forward_hook(lambda module, args, output: _raise(output))
        was_training = self.backbone.training
        self.computing = True
        self.backbone.eval()  # the prefix as in evaluation: no dropout, the same output every time
        try:
            with torch.no_grad():
                self.backbone(**subset)
            raise RuntimeError("the frozen prefix never reached its last block")
        except _PrefixDone as done:
            hidden = done.hidden  # a tensor: install() refuses blocks that return more
        finally:
            stop.remove()
            self.computing = False
            self.backbone.train(was_training)
        sub_mask = mask.index_select(0, index)
        computed = {rows[i]: hidden[j][sub_mask[j]].detach().clone() for j, i in enumerate(new)}
        for row, output in computed.items():
            STORES.keep(key, row, output)
        return computed

    def _after(self, module, args, output):
        self.serving = None
        return None


def _raise(output):
    raise _PrefixDone(output)


def _rows(kwargs: dict) -> tuple[list[bytes] | None, torch.Tensor | None]:
    """Each row's key and the mask of its real positions. The key is the row's real token ids and where
    they start: with left padding a row's positions (and so its outputs) shift with the padding."""
    ids = kwargs.get("input_ids")
    if ids is None:
        return None, None
    mask = kwargs.get("attention_mask")
    mask = torch.ones_like(ids, dtype=torch.bool) if mask is None else mask.bool()
    lengths, starts = mask.sum(1).tolist(), mask.int().argmax(1).tolist()
    flat = ids[mask].to(torch.int32).cpu().numpy()
    rows, offset = [], 0
    for length, first in zip(lengths, starts):
        rows.append(first.to_bytes(4, "little") + flat[offset : offset + length].tobytes())
        offset += length
    return rows, mask


def install(backbone: nn.Module, depth: int, key: tuple) -> FrozenPrefix | None:
    """Serve ``backbone``'s bottom ``depth`` blocks from the store; None where it cannot (said why)."""
    from sweep.models.blocks import example_inputs, find_blocks

    if depth <= 0:
        release()
        return None
    blocks = find_blocks(backbone)
    if "input_ids" not in example_inputs(backbone):
        log.info("frozen prefix cache: text models only; this one computes its frozen blocks every step")
        release()
        return None
    if not _returns_a_tensor(backbone, blocks[depth - 1]):
        log.info("frozen prefix cache: %s blocks return more than their hidden states; not cached", type(blocks[0]).__name__)
        release()
        return None
    STORES.start((*key, depth))  # another model's or depth's outputs go: this job would never read them
    return FrozenPrefix(backbone, blocks, depth, key)


def _returns_a_tensor(backbone: nn.Module, block: nn.Module) -> bool:
    """Whether the block returns its hidden states alone (transformers 5's BERT, GPT-2, Llama, ViT blocks do;
    T5's return the position bias too, which the next block needs: those cannot be skipped)."""
    from sweep.models.blocks import example_inputs

    seen = []
    handle = block.register_forward_hook(lambda module, args, output: seen.append(output))
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            backbone(**example_inputs(backbone))
    finally:
        handle.remove()
        backbone.train(was_training)
    return bool(seen) and torch.is_tensor(seen[0])
