"""Generator-level decay class of ttbar events from the NanoAOD record (``GenPart``, ``GenVisTau``).

Signal of the measurement (ttbar -> tau_h + jets): no prompt electron or muon from the hard
process, exactly one prompt tau from it, and that tau decays hadronically (a ``GenVisTau``
whose mother is that tau).  "Prompt from the hard process" is NanoAOD's ``statusFlags`` bits
isPrompt, fromHardProcess and isLastCopy (each particle counted once); leptons from tau
decays are not prompt.  The same code reads real NanoAOD and the generator's files.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

IS_PROMPT, FROM_HARD_PROCESS, IS_LAST_COPY = 1 << 0, 1 << 8, 1 << 13
#: branches the classification reads (NanoEvents needs the kinematics to build the collections)
TRUTH_BRANCHES = (
    "GenPart_pt", "GenPart_eta", "GenPart_phi", "GenPart_mass", "GenPart_pdgId", "GenPart_status",
    "GenPart_statusFlags", "GenPart_genPartIdxMother",
    "GenVisTau_pt", "GenVisTau_eta", "GenVisTau_phi", "GenVisTau_mass", "GenVisTau_charge",
    "GenVisTau_genPartIdxMother", "GenVisTau_status",
)


def decay_counts(events: Any) -> dict[str, np.ndarray]:
    """Per event: prompt e/mu, prompt taus and hadronically decaying prompt taus of the hard process."""
    gp = events.GenPart
    flags = gp.statusFlags
    pdg = abs(gp.pdgId)
    hard = ((flags & IS_PROMPT) != 0) & ((flags & FROM_HARD_PROCESS) != 0) & ((flags & IS_LAST_COPY) != 0)
    hard_tau = hard & (pdg == 15)
    mother = events.GenVisTau.genPartIdxMother
    valid = (mother >= 0) & (mother < ak.num(gp, axis=1))
    from_hard_tau = ak.fill_none(hard_tau[ak.mask(mother, valid)], False)
    return {
        "n_prompt_lep": ak.to_numpy(ak.sum(hard & ((pdg == 11) | (pdg == 13)), axis=1)).astype(np.int32),
        "n_prompt_tau": ak.to_numpy(ak.sum(hard_tau, axis=1)).astype(np.int32),
        "n_prompt_tau_h": ak.to_numpy(ak.sum(from_hard_tau, axis=1)).astype(np.int32),
    }


def ttbar_labels(events: Any) -> dict[str, np.ndarray]:
    """``is_taujets`` per event (see the module docstring), for :func:`~sysaware.cms.ingestion.ingest.ingest_sample`."""
    c = decay_counts(events)
    return {"is_taujets": (c["n_prompt_lep"] == 0) & (c["n_prompt_tau"] == 1) & (c["n_prompt_tau_h"] == 1)}
