"""Request and response bodies of the explorer's API, as pydantic models.

They validate every request before the model sees it (numbers only, finite, the right fields)
and document the API in its OpenAPI schema. Checks that depend on the loaded model (latent
length, the server's limits) happen in :class:`vaekit.serve.explorer.Explorer`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)

#: A JSON number that is finite: strings, booleans, NaN and Infinity are refused.
Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: Longest list of numbers any request may hold (latent codes or a table row).
MAX_VALUES = 1_000_000


def _check_cell(value: Any) -> Any:
    """Return ``value`` when it is a cell of a typed table's row (text, a finite number,
    true/false or None); raise ``ValueError`` with one line naming what a cell may be."""
    if value is None or isinstance(value, bool | int | str) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ValueError("a cell must be text, a finite number, true/false, or null for a missing cell")


#: A cell of a typed table's row: text, a finite number, true/false, or null for a missing cell.
#: One validator rather than a union, so that a bad cell gets one message, not one per type.
Cell = Annotated[
    Any,
    AfterValidator(_check_cell),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]}),
]
#: A typed table's row, column name -> cell, in the table's column order.
Row = dict[str, Cell]


def label_field() -> Any:
    """The ``label`` of requests: the class a conditional model (cvae) decodes under."""
    return Field(
        None,
        strict=True,
        ge=0,
        description="Conditional models (cvae) only, and required by them: the class number to decode "
        "(and encode) under, 0..num_classes-1 of /api/info.",
    )


class Request(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class DecodeRequest(Request):
    """Decode one latent code, given either as ``z`` or as a point of the 2-D map."""

    z: list[Finite] | None = Field(None, max_length=MAX_VALUES, description="A latent code, latent_dim numbers.")
    point: list[Finite] | None = Field(
        None, description="A point (x, y) of the map; it is mapped back to a latent code (PCA inverse)."
    )
    label: int | None = label_field()

    @model_validator(mode="after")
    def _exactly_one(self) -> DecodeRequest:
        if (self.z is None) == (self.point is None):
            raise ValueError("send exactly one of z (a latent code) or point (x, y on the map)")
        return self


class EncodeRequest(Request):
    """Encode one example: an image file (base64 or a data URL), a row of numbers (plain
    matrices), or a typed table's row as a JSON object or a pasted CSV line."""

    image: str | None = Field(
        None, description="Image file bytes (PNG, JPEG, GIF, BMP, WebP), base64-encoded or as a data: URL."
    )
    values: list[Finite] | None = Field(
        None,
        max_length=MAX_VALUES,
        description="One example as input_dim numbers (plain-matrix tables, or flattened images).",
    )
    row: Row | None = Field(
        None,
        description="Typed tables: one row as column -> value (text, number, true/false, null for missing), "
        "every column of /api/info's columns.",
    )
    csv: str | None = Field(
        None,
        description="Typed tables: one row as a CSV line in the order of /api/info's columns, or a header "
        "line and one row below it; NA or an empty cell is missing.",
    )
    invert: bool = Field(False, description="Map grey levels v to 1 - v (dark-on-light drawings).")
    label: int | None = label_field()

    @model_validator(mode="after")
    def _exactly_one(self) -> EncodeRequest:
        given = [v for v in (self.image, self.values, self.row, self.csv) if v is not None]
        if len(given) != 1:
            raise ValueError(
                "send exactly one of image (a base64 file), values (a row of numbers), "
                "row (a typed table's row, column -> value) or csv (a typed table's row as a CSV line)"
            )
        return self


class SampleRequest(Request):
    """Draw codes from the prior and decode them."""

    n: int = Field(8, strict=True, description="How many samples (at most limits.max_samples of /api/info).")
    temperature: Finite = Field(1.0, gt=0.0, le=10.0, description="Scale of the prior's standard deviation.")
    seed: int | None = Field(
        None, strict=True, ge=0, lt=2**63, description="Seed of the draws; omitted: a fresh one, returned."
    )
    label: int | None = label_field()


class InterpolateRequest(Request):
    """Decode evenly spaced codes on the line from ``start`` to ``end``."""

    start: list[Finite] = Field(..., max_length=MAX_VALUES, description="Latent code at one end.")
    end: list[Finite] = Field(..., max_length=MAX_VALUES, description="Latent code at the other end.")
    steps: int = Field(8, strict=True, description="Number of codes, ends included (2..limits.max_steps).")
    label: int | None = label_field()


class Decoded(BaseModel):
    """One decoded example."""

    z: list[float] = Field(description="The latent code, latent_dim numbers.")
    label: int | None = Field(None, description="The class it was decoded under (conditional models), else null.")
    point: list[float] = Field(description="Its position (x, y) on the map.")
    image: str | None = Field(description="The likelihood's mean as a base64 PNG at the data's resolution (images).")
    values: list[float] = Field(
        description="The likelihood's mean as input_dim numbers: pixel values, or a plain matrix's numbers; "
        "for a typed table, the model's encoded slots (one-hot probabilities, standardised numbers)."
    )
    row: Row | None = Field(
        None,
        description="Typed tables: the decoded row in data units, column -> value (most likely category, "
        "numbers rounded as the column is, null for a cell more likely missing than not); else null.",
    )


class Example(BaseModel):
    """An example as the model sees it."""

    image: str | None = Field(description="Base64 PNG (images), else null.")
    values: list[float] = Field(description="input_dim numbers (for a typed table, the encoded slots).")
    row: Row | None = Field(None, description="Typed tables: the row, column -> value; else null.")


class EncodeResponse(BaseModel):
    """An encoded upload."""

    z: list[float] = Field(description="Posterior mean E[z|x] (E[z|x, label] for conditional models).")
    label: int | None = Field(None, description="The class it was encoded under (conditional models), else null.")
    point: list[float] = Field(description="Its position (x, y) on the map.")
    input: Example = Field(description="The upload after conversion (resized, grey/RGB) as the model sees it.")
    reconstruction: Example = Field(description="decode(E[z|x]).")
    anomaly_score: float = Field(description="Nats per example; `score` says how it is computed.")
    score: str = Field(description="What anomaly_score is.")


class SampleResponse(BaseModel):
    """Decoded prior samples."""

    seed: int
    temperature: float
    items: list[Decoded]


class InterpolateResponse(BaseModel):
    """Decoded codes from start to end."""

    items: list[Decoded]


class Slider(BaseModel):
    """One latent dimension's slider."""

    dim: int = Field(description="Index of the latent dimension.")
    score: float | None = Field(description="Mean KL of this dimension over the test split (nats), or its variance.")
    min: float
    max: float


class Column(BaseModel):
    """One column of a typed table's rows."""

    name: str
    kind: str = Field(description="continuous, integer, count, binary or categorical.")
    categories: list[StrictBool | StrictInt | float | StrictStr] | None = Field(
        description="The values a binary or categorical column takes, else null."
    )
    decimals: int | None = Field(
        None, description="Decimal places a continuous column's numbers are rounded to (as written in training)."
    )


class Limits(BaseModel):
    """What one request may ask for."""

    max_upload_bytes: int
    max_samples: int
    max_steps: int
    max_abs_latent: float


class InfoResponse(BaseModel):
    """The model being explored."""

    run: str | None
    model: str
    data: str
    kind: str = Field(description="image or table.")
    input_shape: list[int]
    input_dim: int
    latent_dim: int
    likelihood: str
    columns: list[Column] | None = Field(description="Typed tables: the columns of a row, in order; else null.")
    variational: bool
    conditional: bool = Field(description="True for conditional models (cvae): every decode and encode takes a label.")
    num_classes: int | None = Field(description="Classes a conditional model decodes under (labels 0..num_classes-1).")
    class_names: list[str] | None = Field(
        description="The name of each class number (of the map's labels, and of a conditional model's label), in "
        "order: a typed table's condition values ('species=Gentoo, sex=male' for a run trained with --condition-on "
        "species,sex), the class folders' names for a run on them; null where the classes are only numbers."
    )
    map_method: str = Field(description="identity (latent_dim <= 2), pca, or first-two (no data to fit PCA).")
    explained_variance_ratio: list[float] | None
    slider_order_by: str = Field(description="kl (mean KL per dimension), variance, or index.")
    sliders: list[Slider] = Field(description="One per latent dimension, most informative first.")
    start: list[float] = Field(description="The latent code at the map's centre.")
    score: str = Field(description="How the anomaly score of /api/encode is computed.")
    data_note: str | None
    limits: Limits


class LatentsResponse(BaseModel):
    """The test split's posterior means on the map."""

    method: str
    points: list[list[float]] = Field(description="[x, y] per example.")
    labels: list[int] | None = Field(description="Class of each point, when the data has labels.")
    total: int = Field(description="Examples in the test split (points may be a fixed subset of them).")
    note: str | None


class ErrorResponse(BaseModel):
    """Every error: one line naming the problem."""

    error: str
