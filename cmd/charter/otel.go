package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing of `charter serve` is off unless configured: by --otlp-endpoint
// (or CHARTER_OTLP_ENDPOINT, or otlp-endpoint in the config file), or by
// the standard OpenTelemetry variables OTEL_EXPORTER_OTLP_ENDPOINT and
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. Spans go over OTLP/HTTP with
// protobuf bodies, the protocol's default, or over gRPC when
// OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL is grpc; the other standard variables
// (OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER ...) apply. See docs/operations.md, "Tracing".

// tracingEndpoint says where spans go: the flag's base URL with the traces
// path, or "" with env set when the exporter reads the standard variables
// itself; off when neither is set or OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER
// turn tracing off.
func tracingEndpoint(flagValue string, getenv func(string) string) (endpoint string, grpc, on bool, err error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return "", false, false, nil
	}
	if e := getenv("OTEL_TRACES_EXPORTER"); e != "" && e != "otlp" {
		return "", false, false, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: charter sends traces over OTLP only\nhint: unset it, or set it to otlp or none", e)
	}
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if flagValue == "" && getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return "", false, false, nil
	}
	switch proto {
	case "", "http/protobuf":
	case "grpc":
		grpc = true
	default:
		return "", false, false, fmt.Errorf("OTLP protocol %q: charter sends traces over http/protobuf (the default) or grpc\nhint: set OTEL_EXPORTER_OTLP_PROTOCOL to one of them, or unset it", proto)
	}
	if flagValue == "" {
		return "", grpc, true, nil
	}
	u, perr := url.Parse(flagValue)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false, false, fmt.Errorf("--otlp-endpoint %q is not an http(s) URL\nhint: give the collector's OTLP base URL, e.g. http://127.0.0.1:4318 (OTLP/HTTP; charter adds /v1/traces) or, with OTEL_EXPORTER_OTLP_PROTOCOL=grpc, http://127.0.0.1:4317", flagValue)
	}
	if !grpc {
		u.Path = strings.TrimRight(u.Path, "/") + "/v1/traces"
	}
	return u.String(), grpc, true, nil
}

// startTracing returns the tracer provider serve hands the server, and a
// function that flushes the spans not yet sent and stops; nil when
// tracing is off.
func startTracing(ctx context.Context, flagValue string, log *slog.Logger) (trace.TracerProvider, func(), error) {
	endpoint, grpc, on, err := tracingEndpoint(flagValue, os.Getenv)
	if err != nil || !on {
		return nil, func() {}, err
	}
	var exp sdktrace.SpanExporter
	if grpc {
		var opts []otlptracegrpc.Option
		if endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	} else {
		var opts []otlptracehttp.Option
		if endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP trace exporter: %w\nhint: check --otlp-endpoint and the OTEL_EXPORTER_OTLP_* variables", err)
	}
	v := buildVersion()
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "charter"), attribute.String("service.version", v.Version)),
		resource.WithTelemetrySDK(), resource.WithHost(), resource.WithFromEnv())
	if err != nil {
		log.Warn("tracing: some resource attributes were not read", "err", err)
	}
	// Export failures (a collector down) are logged, not fatal: tracing
	// never stops the service.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: export failed", "err", err) }))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	where := endpoint
	if where == "" {
		where = "from OTEL_EXPORTER_OTLP_* variables"
	}
	proto := "http/protobuf"
	if grpc {
		proto = "grpc"
	}
	log.Info("tracing", "otlp_endpoint", where, "otlp_protocol", proto)
	return tp, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: spans not sent at shutdown", "err", err)
		}
	}, nil
}
