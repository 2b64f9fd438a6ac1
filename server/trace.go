package server

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// requestTracer makes one server span per request when the operator
// configured tracing (Config.Tracer). The server depends on the
// OpenTelemetry API only: the SDK and the OTLP exporter are the command's
// (cmd/charter/otel.go), so a library user can pass any provider.
type requestTracer struct {
	t    trace.Tracer
	prop propagation.TextMapPropagator
}

func newRequestTracer(tp trace.TracerProvider) *requestTracer {
	if tp == nil {
		return nil
	}
	return &requestTracer{t: tp.Tracer("github.com/charter-dev/charter/server"), prop: propagation.TraceContext{}}
}

// start opens the span of r, a child of the caller's span when r carries
// a W3C traceparent header. The route is not known yet (the mux finds it).
func (rt *requestTracer) start(r *http.Request, id string) (context.Context, trace.Span) {
	ctx := rt.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	return rt.t.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
		attribute.String("charter.request_id", id),
	))
}

// end names the span after its route (the pattern, as the metrics do:
// "GET /v1/assets/{id}", never the path, which holds ids) and records
// the status; a 5xx answer marks the span as an error.
func (rt *requestTracer) end(span trace.Span, method, route string, status int, in, out int64) {
	name := route
	if route == "unmatched" {
		name = method
	} else if !strings.Contains(route, " ") {
		name = method + " " + route
	}
	span.SetName(name)
	span.SetAttributes(
		attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status),
		attribute.Int64("http.request.body.size", in),
		attribute.Int64("http.response.body.size", out),
	)
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
