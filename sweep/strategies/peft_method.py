"""What every PEFT method shares: one config schema, its per-method defaults, and the wrapping.

Each PEFT method is a strategy of its own (``strategy=ia3``, ``strategy=vera`` ...; one file each, which builds
its PEFT config), and ``strategy=peft strategy.method=<name>`` is the same strategy spelt through one file:
conf/strategy/peft.yaml sets ``name: ${.method}``, so the job is recorded, refused, searched and compared as
that method. For that one file to take any method's keys from the command line, every PEFT method reads the
same schema (``PeftConfig``): the union of the methods' knobs, each null by default and filled with the chosen
method's default here (``METHODS``); a knob set for a method that does not read it is an error naming it.

Why not PEFT's own config classes as the schema: they import torch and transformers (the config check stays
light), and their defaults are for 7B models (VeRA's r=256 is kept: it is a shared projection's rank).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional

from sweep.config.errors import ConfigError, require
from sweep.strategies.base import Strategy, StrategyConfig

# the method's knobs -> their defaults; every knob of PeftConfig below is read by the methods listing it
METHODS: dict[str, dict[str, Any]] = {
    "lora": {"r": 8, "alpha": 16.0, "dropout": 0.1, "target_modules": None, "use_dora": False, "use_rslora": False, "init": "default"},
    "prompt": {"num_virtual_tokens": 20, "init_text": None},
    "prefix": {"num_virtual_tokens": 20, "prefix_projection": False, "encoder_hidden_size": 128},
    "ptuning": {"num_virtual_tokens": 20, "encoder_type": "MLP", "encoder_hidden_size": 128, "encoder_num_layers": 2, "dropout": 0.0},
    "ia3": {"target_modules": None, "feedforward_modules": None},
    "adalora": {"r": 12, "target_r": 4, "alpha": 16.0, "dropout": 0.1, "target_modules": None, "tinit": 0.1, "tfinal": 0.2, "delta_t": 1},
    "loha": {"r": 8, "alpha": 8.0, "dropout": 0.0, "module_dropout": 0.0, "target_modules": None},
    "lokr": {
        **{"r": 8, "alpha": 8.0, "dropout": 0.0, "module_dropout": 0.0, "target_modules": None},
        **{"decompose_both": False, "decompose_factor": -1},
    },
    "vera": {"r": 256, "dropout": 0.0, "target_modules": None, "d_initial": 0.1, "projection_prng_key": 0},
    "ln_tuning": {"target_modules": None},
}
LORA_INITS = ("default", "gaussian", "pissa", "olora")  # strategy.init -> PEFT's init_lora_weights (default: True)
ENCODER_TYPES = ("MLP", "LSTM")  # P-tuning's prompt encoder


@dataclass
class PeftConfig(StrategyConfig):
    """Every PEFT method's knobs (null: the method's default, METHODS). Which method: ``name`` (the strategy)."""

    method: Optional[str] = None  # strategy=peft: the method; conf/strategy/peft.yaml makes name follow it
    # strategy=peft: each method's optim.lr and weight_decay defaults (its own file's), which peft.yaml's optim reads
    optim_of: Dict[str, Dict[str, float]] = field(default_factory=dict)
    r: Optional[int] = None  # rank: lora, loha, lokr; adalora's initial rank; vera's shared projection rank
    alpha: Optional[float] = None  # scaling numerator (alpha / r): lora, adalora, loha, lokr
    dropout: Optional[float] = None  # lora/adalora/vera dropout, loha/lokr rank dropout, ptuning's encoder dropout
    target_modules: Optional[List[str]] = None  # null: PEFT's default for the model type (or ours, below)
    use_dora: Optional[bool] = None  # lora: weight-decomposed LoRA (DoRA)
    use_rslora: Optional[bool] = None  # lora: rank-stabilised scaling alpha / sqrt(r)
    init: Optional[str] = None  # lora: default | gaussian | pissa | olora
    num_virtual_tokens: Optional[int] = None  # prompt, prefix, ptuning
    init_text: Optional[str] = None  # prompt: initialise the soft prompt from this text's embeddings
    prefix_projection: Optional[bool] = None  # prefix: an MLP reparameterises the prefix while training
    encoder_hidden_size: Optional[int] = None  # ptuning's prompt encoder; prefix's projection width
    encoder_type: Optional[str] = None  # ptuning: MLP | LSTM
    encoder_num_layers: Optional[int] = None  # ptuning
    feedforward_modules: Optional[List[str]] = None  # ia3: the targets scaled at their input (the FFN's second layer)
    target_r: Optional[int] = None  # adalora: the average rank left once the budget is spent
    tinit: Optional[float] = None  # adalora: share of the training steps before ranks are pruned
    tfinal: Optional[float] = None  # adalora: share of the training steps after the last pruning
    delta_t: Optional[int] = None  # adalora: steps between two budget allocations
    module_dropout: Optional[float] = None  # loha, lokr: drop a whole adapted module
    decompose_both: Optional[bool] = None  # lokr: low-rank decompose the left Kronecker factor too
    decompose_factor: Optional[int] = None  # lokr: -1 = the factorisation closest to a square
    d_initial: Optional[float] = None  # vera: initial value of the scaling vector d
    projection_prng_key: Optional[int] = None  # vera: seed of the frozen shared random projections

    def __post_init__(self) -> None:
        name = self.name
        require(name in METHODS, "strategy.method", self.method or name, f"allowed: {', '.join(sorted(METHODS))}")
        require(self.method in (None, name), "strategy.method", self.method, f"strategy.name={name}: leave strategy.method unset")
        self.method = name
        own = METHODS[name]
        for knob in (f.name for f in fields(self) if f.name not in ("name", "method", "optim_of")):
            value = getattr(self, knob)
            if knob not in own:
                if value is not None:
                    keys = ", ".join(own) or "none"
                    raise ConfigError(f"strategy.{knob}", f"strategy.method={name} does not read it; its keys: {keys}", value)
            elif value is None:
                setattr(self, knob, own[knob])
        self.check_ranges()

    def check_ranges(self) -> None:
        def at_least(knob: str, low: float) -> None:
            value = getattr(self, knob)
            if value is not None:
                require(value >= low, f"strategy.{knob}", value, f"must be >= {low}")

        def fraction(knob: str) -> None:
            value = getattr(self, knob)
            if value is not None:
                require(0.0 <= value < 1.0, f"strategy.{knob}", value, "must be in [0, 1)")

        for knob in ("r", "alpha", "encoder_hidden_size", "encoder_num_layers", "target_r", "delta_t"):
            at_least(knob, 1)
        for knob in ("dropout", "module_dropout", "tinit", "tfinal"):
            fraction(knob)
        if self.num_virtual_tokens is not None:
            require(1 <= self.num_virtual_tokens <= 512, "strategy.num_virtual_tokens", self.num_virtual_tokens, "must be in [1, 512]")
        if self.init is not None:
            require(self.init in LORA_INITS, "strategy.init", self.init, f"must be one of {', '.join(LORA_INITS)}")
        if self.encoder_type is not None:
            allowed = ", ".join(ENCODER_TYPES)
            require(self.encoder_type in ENCODER_TYPES, "strategy.encoder_type", self.encoder_type, f"must be one of {allowed}")
        if self.target_r is not None:
            require(self.target_r < self.r, "strategy.target_r", self.target_r, f"must be < strategy.r={self.r} (the initial rank)")
        if self.tinit is not None:
            left = "strategy.tinit + strategy.tfinal must be < 1 (no budget phase left)"
            require(self.tinit + self.tfinal < 1.0, "strategy.tfinal", self.tfinal, left)
        if self.target_modules is not None:
            require(len(self.target_modules) >= 1, "strategy.target_modules", self.target_modules, "must name a module (null: the default)")


# attention and FFN names for model types PEFT 0.21.2 has no default for. ViT: transformers 5 names its attention
# projections q_proj/k_proj/v_proj/o_proj and its MLP fc1/fc2 (PEFT maps vit, for two methods only, to the old
# names query/value, which no longer exist): LoRA's choice (query, value), and IA3's as for BERT (key, value, FFN out)
DEFAULT_TARGETS = {"vit": ["q_proj", "v_proj"]}
IA3_TARGETS = {"vit": (["k_proj", "v_proj", "fc2"], ["fc2"])}


class PeftMethod(Strategy):
    """A PEFT method: ``peft_config`` builds its PEFT config; the backbone is wrapped, frozen but for the adapter.
    The head (ours, see sweep/models/classifier.py) trains too: PEFT's ``modules_to_save`` covers HF heads only."""

    config_class = PeftConfig

    def peft_config(self, model, tokenizer):
        raise NotImplementedError

    def targets(self, model) -> list[str] | None:
        """``strategy.target_modules``, else ours for a model type PEFT has no default for (DEFAULT_TARGETS), else
        None: PEFT's own default for the model type."""
        model_type = getattr(getattr(model.backbone, "config", None), "model_type", None)
        targets = self.config.target_modules or DEFAULT_TARGETS.get(model_type)
        return list(targets) if targets else None

    def task_type(self, model, default: str | None = None):
        """A language model (generation types) is wrapped as one, so that PEFT's generate() runs it."""
        from peft import TaskType

        name = getattr(model, "peft_task_type", default)
        return TaskType[name] if name else None

    def apply(self, model, tokenizer) -> None:
        from peft import get_peft_model

        method = self.config.name
        model_type = getattr(getattr(model.backbone, "config", None), "model_type", None)
        why = MODEL_TYPE_REFUSALS.get(method, {}).get(model_type)
        if why is not None:  # known from the loaded model only: refused as it is wrapped, before any run is opened
            allowed = ", ".join(name for name in sorted(METHODS) if model_type not in MODEL_TYPE_REFUSALS.get(name, {}))
            raise ConfigError("strategy.method", f"{method} cannot wrap a {model_type} model: {why} (allowed: {allowed})", method)
        config = self.peft_config(model, tokenizer)
        try:
            model.backbone = get_peft_model(model.backbone, config)
        except (ValueError, TypeError) as error:  # PEFT names the modules it could not find, or a layer type it cannot adapt
            raise ConfigError("strategy.target_modules", str(error).splitlines()[0], self.config.target_modules) from None


# method -> model type -> why it cannot wrap it. A family refuses a method at compose time (sweep/models/families.py);
# these are single model types of a family that others of it can run (GPT-2 is a decoder, as Llama is)
CONV1D = "GPT-2's layers are transformers Conv1D, which PEFT's LyCORIS adapters (LoHa, LoKr) cannot adapt"
MODEL_TYPE_REFUSALS: dict[str, dict[str, str]] = {"loha": {"gpt2": CONV1D}, "lokr": {"gpt2": CONV1D}}


def norm_modules(backbone) -> list[str]:
    """The last names of every normalisation layer (LayerNorm, RMSNorm, T5LayerNorm): LN tuning's targets."""
    return sorted({name.rpartition(".")[2] for name, module in backbone.named_modules() if name and "Norm" in type(module).__name__})
