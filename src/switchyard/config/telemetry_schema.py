"""The agent file's `telemetry:` block: OpenTelemetry traces of its turns, in the reference's
shape (Dexto's OtelConfigurationSchema): nothing is traced unless `enabled: true`.

    telemetry:
      enabled: true
      serviceName: support-agent          # default: switchyard
      tracerName: switchyard              # default: the service name
      export:                             # default: console
        type: otlp                        # or console
        protocol: http                    # or grpc
        endpoint: http://127.0.0.1:4318/v1/traces   # a URL, or host:port
        headers: {authorization: "Bearer $OTEL_TOKEN"}

The exporter is built by switchyard/observability/tracing.py (the `[otel]` extra).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HOST_PORT = re.compile(r"^[\w.-]+:\d+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OtlpExport(_Strict):
    type: Literal["otlp"]
    protocol: Literal["http", "grpc"] = "http"
    # http: the traces URL (http://host:4318/v1/traces; host:port gets that path);
    # grpc: host:port or a URL. None: the exporter's default (localhost, OTEL_EXPORTER_OTLP_* variables).
    endpoint: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not (value.startswith(("http://", "https://")) or _HOST_PORT.match(value)):
            raise ValueError("must be an http(s) URL or host:port")
        return value


class ConsoleExport(_Strict):
    type: Literal["console"]


class TelemetryConfig(_Strict):
    enabled: bool = False
    serviceName: str | None = Field(None, min_length=1)
    tracerName: str | None = Field(None, min_length=1)
    export: Annotated[Union[OtlpExport, ConsoleExport], Field(discriminator="type")] | None = None
