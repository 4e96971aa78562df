"""RLlib's PPO and DQN torch learners with a leaner optimizer step.

The losses, the gradient clipping, the KL coefficient and target-network
updates and the checkpoints are RLlib's; three things about the optimizer step
differ, and one metric is skipped when there is nothing to log:

- **Clipping and the finiteness check on one norm computation.** RLlib
  computes the global gradient norm one tensor at a time (a norm and a
  ``nan_to_num`` per tensor), then checks every gradient tensor for
  ``NaN``/``inf`` twice: about 100 small ops per step for a 2 x 64
  actor-critic, a fifth of a minibatch step on these networks. Here the
  per-tensor norms come from one ``torch._foreach_norm`` call; the global
  norm, the clip coefficient (RLlib's formula, ``nan_to_num`` included) and
  the logged ``gradients_<optimizer>_global_norm`` are computed from them, the
  gradients scaled in one ``torch._foreach_mul_``, and the optimizer steps
  when every norm is finite. Otherwise RLlib's own handling runs
  (non-finite gradients set to zero).
- **Old gradients dropped directly.** ``param.grad = None`` for every
  parameter, as RLlib's ``zero_grad(set_to_none=True)`` does, without the
  optimizer's profiler scope around it.
- **Fused Adam.** ``torch.optim.Adam(fused=True)``: the same Adam update
  (RLlib builds ``torch.optim.Adam`` with its defaults) in one kernel per
  step instead of a dozen small ops per parameter tensor.

RLlib's off-policyness metric (the learner's weight number minus the
sampler's) is computed only for batches that carry the sampler's weight
numbers; the project's lean training steps hand over batches without them,
for which RLlib logs nothing but still pays for the call.

Learning-rate schedulers and gradient scalers, which this project does not
configure, fall back to RLlib's own step.
"""

from __future__ import annotations

from typing import Any

import torch

from cappuccino_ray.agents import rllib_names as rl

__all__ = ["LeanDQNLearner", "LeanPPOLearner"]


class _LeanStep:
    """Mixin for a ``TorchLearner``: fused Adam, batched clipping, one finiteness check per step."""

    def configure_optimizers_for_module(self, module_id: Any, config: Any = None) -> None:
        """RLlib's default optimizer (Adam with the config's learning rate), fused."""
        me: Any = self
        params = me.get_parameters(me._module[module_id])
        fused = all(p.device.type in ("cpu", "cuda") for p in params)
        me.register_optimizer(
            module_id=module_id,
            optimizer=torch.optim.Adam(params, fused=fused or None),
            params=params,
            lr_or_lr_schedule=config.lr,
        )

    def _compute_off_policyness(self, batch: dict[Any, Any]) -> None:
        """RLlib's off-policyness metric, skipped when no module batch carries weight numbers.

        RLlib logs the mean gap between the learner's and the sampler's weight
        numbers for the module batches that carry them; with none it logs an
        empty dict, about 20 us a minibatch step for nothing.
        """
        if any(rl.WEIGHTS_SEQ_NO in module_batch for module_batch in batch.values()):
            super()._compute_off_policyness(batch)  # type: ignore[misc]

    def compute_gradients(self, loss_per_module: dict[Any, Any], **kwargs: Any) -> dict[Any, Any]:
        """RLlib's gradients, with the old ones dropped by setting ``grad = None`` directly.

        RLlib calls each optimizer's ``zero_grad(set_to_none=True)``, which
        does the same inside a profiler scope (tens of microseconds a step).
        With gradient scalers configured RLlib's own method runs.
        """
        me: Any = self
        if me._grad_scalers is not None:
            return super().compute_gradients(loss_per_module, **kwargs)  # type: ignore[misc]
        params = me._params
        for p in params.values():
            p.grad = None
        total_loss = sum(loss_per_module.values())
        if isinstance(total_loss, int) or total_loss.grad_fn is None:  # no loss, or every parameter frozen
            return {}
        total_loss.backward()
        return {pid: p.grad for pid, p in params.items()}

    def postprocess_gradients_for_module(
        self, *, module_id: Any, config: Any = None, module_gradients_dict: dict[Any, Any]
    ) -> dict[Any, Any]:
        """Clip by the global norm as RLlib does, from one batched norm computation.

        Every call sets ``_grads_finite`` for :meth:`apply_gradients` (None where RLlib's
        own postprocessing ran).
        """
        me: Any = self
        optimizers = me.get_optimizers_for_module(module_id)
        grads = [g for g in module_gradients_dict.values() if g is not None]
        if (
            config is None
            or config.grad_clip is None
            or config.grad_clip_by != "global_norm"
            or len(optimizers) != 1
            or not grads
        ):
            me._grads_finite = None
            return super().postprocess_gradients_for_module(  # type: ignore[misc]
                module_id=module_id, config=config, module_gradients_dict=module_gradients_dict
            )
        norms = torch.stack(torch._foreach_norm(grads))
        me._grads_finite = norms.isfinite().all()
        big = 10e8  # RLlib's bounds for an overflowing norm
        total = torch.linalg.vector_norm(norms.nan_to_num(neginf=-big, posinf=big))
        total = total.nan_to_num(neginf=-big, posinf=big)
        clip = float(config.grad_clip)
        torch._foreach_mul_(grads, torch.clamp(clip / torch.clamp(total + 1e-6, min=clip), max=1.0))
        name = optimizers[0][0]
        me.metrics.log_value(key=(module_id, f"gradients_{name}_global_norm"), value=total, window=1)
        return dict(module_gradients_dict)

    def apply_gradients(self, gradients_dict: dict[Any, Any]) -> None:
        """Set the gradients and step every optimizer, when all gradients are finite."""
        me: Any = self
        finite = getattr(me, "_grads_finite", None)
        plain = me._grad_scalers is None and me._lr_scheduler_classes is None
        if finite is None:
            grads = [g for g in gradients_dict.values() if g is not None]
            finite = torch.stack(torch._foreach_norm(grads)).isfinite().all() if grads else None
        if not plain or finite is None or not bool(finite):
            super().apply_gradients(gradients_dict)  # type: ignore[misc]
            return
        for pid, grad in gradients_dict.items():
            me._params[pid].grad = grad
        for module_id, names in me._module_optimizers.items():
            for name in names:
                me.get_optimizer(module_id, name).step()


class LeanPPOLearner(_LeanStep, rl.PPOTorchLearner):
    """RLlib's PPO torch learner with the lean optimizer step (module docstring)."""


class LeanDQNLearner(_LeanStep, rl.DQNTorchLearner):
    """RLlib's DQN torch learner with the lean optimizer step (module docstring)."""
