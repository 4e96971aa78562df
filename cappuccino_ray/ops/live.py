"""The live deployment as an object: verified checkpoint in, latest candles to target weights out.

:meth:`DeployedModel.load` re-hashes the deployment's checkpoint against its
manifest before loading it with :func:`cappuccino_ray.agents.inference.load_agent`
(plain torch, no Ray). :meth:`DeployedModel.target_weights` builds the
observation of the last candle exactly as the environment does (features,
look-back window, current holdings and their ages) and returns the portfolio
weights the agent aims for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cappuccino_ray.data.market import MarketData
from cappuccino_ray.errors import DeployError
from cappuccino_ray.ops.deploy import Deployer

__all__ = ["DeployedModel"]


@dataclass(frozen=True)
class DeployedModel:
    """A deployment's manifest and its loaded agent."""

    manifest: dict[str, Any]
    agent: Any
    checkpoint: Path

    @classmethod
    def load(cls, deployments_dir: str | Path, dep_id: str | None = None) -> DeployedModel:
        """Verify and load ``dep_id`` (default: ``current``).

        Raises:
            DeployError: If nothing is deployed, the files differ from the manifest,
                or the checkpoint is not a readable agent.
        """
        from cappuccino_ray.agents.inference import load_agent

        dep = Deployer(deployments_dir)
        manifest = dep.show(dep_id)
        ckpt = dep.checkpoint_dir(manifest["id"])
        return cls(manifest, load_agent(ckpt), ckpt)

    def observation(
        self,
        market: MarketData,
        holdings: np.ndarray | None = None,
        ages: np.ndarray | None = None,
    ) -> np.ndarray:
        """The observation of ``market``'s last bar, built as the environment builds it.

        Args:
            market: Recent candles of the agent's symbols at its interval (long
                enough for the features' warm-up and the look-back).
            holdings: Current portfolio weights per asset (default: all cash).
            ages: Position ages as fractions of the holding limit (default 0).

        Returns:
            A float32 vector of the agent's observation length.
        """
        from cappuccino_ray.env.setup import Observer, build_setup

        spec = self.agent.spec
        if spec.symbols and tuple(market.symbols) != tuple(spec.symbols):
            raise DeployError(f"candles are for {market.symbols}; this model trades {tuple(spec.symbols)}")
        if market.interval != spec.interval:
            raise DeployError(f"candles are {market.interval}; this model was trained on {spec.interval}")
        setup = build_setup({"market": market, "settings": spec.env_settings, "mode": "eval"})
        n = market.n_assets
        w = np.zeros(n) if holdings is None else np.asarray(holdings, dtype=np.float64)
        a = np.zeros(n) if ages is None else np.asarray(ages, dtype=np.float64)
        if w.shape != (n,) or a.shape != (n,):
            raise DeployError(f"holdings and ages need one value per asset ({n})")
        observer = Observer(setup.features, setup.settings.lookback)
        obs: np.ndarray = observer.build(np.array([market.n_bars - 1]), w[:, None], a[:, None])[0]
        return obs

    def target_weights(
        self,
        market: MarketData,
        holdings: np.ndarray | None = None,
        ages: np.ndarray | None = None,
    ) -> np.ndarray:
        """Target portfolio weights ``(n_assets,)`` after the last candle (NaN = keep as is)."""
        weights: np.ndarray = self.agent.target_weights(self.observation(market, holdings, ages))
        return weights
