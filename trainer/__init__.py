"""Persona-conditioned LoRA DPO on a TRL preference export (`vault train`).

Importing this package is cheap: torch, transformers, trl and peft are imported inside the
functions that need them, so the `vault` CLI can register `train` without loading them.

Library API:
    trainer.config.TrainConfig            settings (file + flags)
    trainer.data.load_pairs(dir)          the TRL export, validated
    trainer.fit.fit_pair(tok, pair, n)    a long pair fitted into n tokens (or excluded, with why)
    trainer.model.load_base(path)         a local HF folder or a GGUF file, trainable
    trainer.evaluate.evaluate(...)        preference accuracy, margins, persona ablation
    trainer.train.run(config)             train + evaluate + write outputs -> metrics
    trainer.train.dry_run(config)         validate data and chat template, time a step
    trainer.train.eval_only(config)       evaluate the base and any adapter
"""

__all__ = ["config", "data", "evaluate", "fit", "model", "report", "train"]
