"""Base class of every generated model: the policies that hold for the whole contract.

- ``extra="forbid"``: a field the contract does not know is an error (catches typos in
  client payloads instead of silently dropping data).
- ``allow_inf_nan=False``: NaN and infinities are refused everywhere; they have no JSON
  form and MongoDB-compatible stores (FerretDB) cannot hold them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ContractModel"]


class ContractModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_attribute_docstrings=True)
