package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
)

// HeaderRequestID carries a request's id: the client's, if it sent a
// well-formed one, else one the server makes. The answer always has it,
// and the server's log line of the request names it.
const HeaderRequestID = "X-Request-Id"

// observer is the operator's view of a server: Prometheus metrics on the
// server's own registry (not the process-global one: tests run many
// servers in one process) and the access log.
type observer struct {
	reg       *prometheus.Registry
	duration  *prometheus.HistogramVec
	bytesIn   *prometheus.CounterVec
	bytesOut  *prometheus.CounterVec
	grants    *prometheus.CounterVec
	decisions *prometheus.CounterVec
	appendDur prometheus.Histogram
	appendErr prometheus.Counter

	scrubBlobs, scrubBytes atomic.Int64 // of the scrub running now (or the last)
	scrubRunning           atomic.Bool
	scrubFinished          atomic.Int64 // unix seconds, 0: never
	settled                atomic.Int64 // unix nanoseconds of the last successful settlement
	started                time.Time
	tracer                 *requestTracer // nil: no tracing (trace.go)
}

func newObserver(s *Server) *observer {
	o := &observer{reg: prometheus.NewRegistry(), started: time.Now()}
	o.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "charter_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route (the pattern, not the path), method and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"route", "method", "code"})
	o.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "charter_http_request_bytes_total", Help: "Request body bytes read, by route."}, []string{"route"})
	o.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "charter_http_response_bytes_total", Help: "Response body bytes written, by route."}, []string{"route"})
	o.grants = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "charter_grant_requests_total", Help: "Grant requests decided, by outcome: granted, pending (waits for the owners) or denied."}, []string{"outcome"})
	o.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "charter_license_decisions_total", Help: "Licence decisions logged, by effect."}, []string{"effect"})
	o.appendDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "charter_log_append_duration_seconds", Help: "Time to append one entry to the transparency log (sequenced, integrated, durable).", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)})
	o.appendErr = prometheus.NewCounter(prometheus.CounterOpts{Name: "charter_log_append_errors_total", Help: "Log appends that failed."})
	ctx := context.Background()
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	o.reg.MustRegister(o.duration, o.bytesIn, o.bytesOut, o.grants, o.decisions, o.appendDur, o.appendErr,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("charter_log_size_entries", "Entries in the transparency log, by its latest checkpoint (-1: the checkpoint does not read or verify).", func() float64 {
			cp, err := s.tlog.Checkpoint(ctx)
			if err != nil {
				return -1
			}
			return float64(cp.Size)
		}),
		gauge("charter_settlement_lag_seconds", "Seconds since the last successful settlement (since the start when none ran yet).", func() float64 {
			last := o.settled.Load()
			if last == 0 {
				return time.Since(o.started).Seconds()
			}
			return time.Since(time.Unix(0, last)).Seconds()
		}),
		gauge("charter_scrub_running", "1 while a scrub (re-verification of every stored blob) runs.", func() float64 {
			if o.scrubRunning.Load() {
				return 1
			}
			return 0
		}),
		gauge("charter_scrub_blobs_verified", "Blobs the current (or last) scrub has verified so far.", func() float64 { return float64(o.scrubBlobs.Load()) }),
		gauge("charter_scrub_bytes_verified", "Bytes the current (or last) scrub has verified so far.", func() float64 { return float64(o.scrubBytes.Load()) }),
		gauge("charter_scrub_last_finished_timestamp_seconds", "When the last scrub finished (0: none yet).", func() float64 { return float64(o.scrubFinished.Load()) }),
		gauge("charter_corrupt_blobs", "Stored blobs recorded as corrupt (healthz lists them).", func() float64 {
			bad, err := s.cat.Corruptions(ctx)
			if err != nil {
				return -1
			}
			return float64(len(bad))
		}),
	)
	return o
}

// metricsHandler serves GET /metrics in the Prometheus text format.
func (o *observer) metricsHandler() http.Handler {
	return promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{})
}

func (o *observer) grant(outcome string)   { o.grants.WithLabelValues(outcome).Inc() }
func (o *observer) decision(effect string) { o.decisions.WithLabelValues(effect).Inc() }

// appended records one log append.
func (o *observer) appended(start time.Time, err error) {
	if err != nil {
		o.appendErr.Inc()
		return
	}
	o.appendDur.Observe(time.Since(start).Seconds())
}

var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// wrap is the middleware around the whole API: request id, metrics by
// route and the access log (every request at Info when accessLog, else
// only server errors, at Warn).
func (o *observer) wrap(next http.Handler, log *slog.Logger, accessLog bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !goodRequestID.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set(HeaderRequestID, id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		var span trace.Span
		if o.tracer != nil {
			var ctx context.Context
			ctx, span = o.tracer.start(r, id)
			r = r.WithContext(ctx)
		}
		start := time.Now()
		cw := &countingWriter{w: w, code: http.StatusOK}
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{r: r.Body}
			r.Body = body
		}
		next.ServeHTTP(cw, r)
		d := time.Since(start)
		// ServeMux sets the matched pattern on the request it routed.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		method := r.Method
		switch method {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH":
		default:
			method = "other"
		}
		code := strconv.Itoa(cw.code)
		o.duration.WithLabelValues(route, method, code).Observe(d.Seconds())
		var in int64
		if body != nil {
			in = body.n
			o.bytesIn.WithLabelValues(route).Add(float64(in))
		}
		o.bytesOut.WithLabelValues(route).Add(float64(cw.n))
		var traceAttr slog.Attr
		if span != nil {
			o.tracer.end(span, r.Method, route, cw.code, in, cw.n)
			traceAttr = slog.String("trace_id", span.SpanContext().TraceID().String())
		}
		level := slog.LevelInfo
		switch {
		case cw.code >= 500:
			level = slog.LevelWarn
		case !accessLog:
			return
		}
		log.LogAttrs(r.Context(), level, "request", slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
			slog.String("path", r.URL.Path), slog.Int("status", cw.code), slog.Int64("bytes_in", in), slog.Int64("bytes_out", cw.n),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("remote", r.RemoteAddr), traceAttr)
	})
}

// countingWriter counts what a handler writes and remembers its status. It
// keeps the writer's fast paths: Flush, ReadFrom (sendfile) and Unwrap
// for http.ResponseController.
type countingWriter struct {
	w     http.ResponseWriter
	code  int
	n     int64
	wrote bool
}

func (c *countingWriter) Header() http.Header { return c.w.Header() }

func (c *countingWriter) WriteHeader(code int) {
	if !c.wrote {
		c.code, c.wrote = code, code >= 200 // 1xx answers come before the real one
	}
	c.w.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wrote = true
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	c.wrote = true
	var n int64
	var err error
	if rf, ok := c.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(c.w, r)
	}
	c.n += n
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.w }

type countingBody struct {
	r io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.r.Close() }

// livez answers 200 while the process serves HTTP.
func (s *Server) livez(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 when the server can take traffic: its catalog answers
// and its log's checkpoint reads and verifies; 503 naming what is not
// ready otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	out := map[string]string{"status": "ready"}
	status := http.StatusOK
	if _, err := s.cat.Corruptions(ctx); err != nil {
		out["status"], out["catalog"], status = "not ready", "unavailable: "+err.Error(), http.StatusServiceUnavailable
	}
	if _, err := s.tlog.Checkpoint(ctx); err != nil {
		out["status"], out["log"], status = "not ready", "unreadable: "+err.Error(), http.StatusServiceUnavailable
	}
	writeJSON(w, status, out)
	return nil
}

// metrics serves GET /metrics.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	s.obs.metricsHandler().ServeHTTP(w, r)
	return nil
}
