package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the controller's Prometheus collectors. Every part of the
// controller records into the one Metrics it is given; /metrics serves its
// Registry.
type Metrics struct {
	Registry *prometheus.Registry

	// Decisions counts evaluated decisions by action.
	Decisions *prometheus.CounterVec
	// DecisionSeconds observes the time of one evaluation.
	DecisionSeconds prometheus.Histogram
	// DirectivesPublished counts signed directives sent to devices.
	DirectivesPublished prometheus.Counter
	// DevicesByState gauges devices by the state their agent last reported
	// for any app (installed, waiting, downloading, failed, ...).
	DevicesByState *prometheus.GaugeVec
	// Devices gauges the inventory size.
	Devices prometheus.Gauge
	// ReportLagSeconds observes the delay from a report being sent to it
	// being processed.
	ReportLagSeconds prometheus.Histogram
	// ReconcileQueue gauges devices waiting for re-evaluation.
	ReconcileQueue prometheus.Gauge
	// HTTPRequestSeconds observes HTTP latency by route and status code.
	HTTPRequestSeconds *prometheus.HistogramVec
	// Events counts device events stored, by name.
	Events *prometheus.CounterVec
}

// NewMetrics registers the controller's collectors, plus the Go and process
// collectors, in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_decisions_total", Help: "Decisions evaluated, by action.",
		}, []string{"action"}),
		DecisionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sluice_decision_seconds", Help: "Time to evaluate one decision.",
			Buckets: prometheus.ExponentialBuckets(5e-6, 2, 14),
		}),
		DirectivesPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_directives_published_total", Help: "Signed directives published to devices.",
		}),
		DevicesByState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_devices_by_state", Help: "Devices by the state their agent last reported for an app.",
		}, []string{"state"}),
		Devices: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_devices", Help: "Devices in the inventory.",
		}),
		ReportLagSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sluice_report_lag_seconds", Help: "Delay from a device sending a report to the controller processing it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		ReconcileQueue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_reconcile_queue", Help: "Devices waiting for re-evaluation.",
		}),
		HTTPRequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_http_request_seconds", Help: "HTTP request latency by route and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_device_events_total", Help: "Device events stored, by name.",
		}, []string{"name"}),
	}
	m.Registry.MustRegister(
		m.Decisions, m.DecisionSeconds, m.DirectivesPublished, m.DevicesByState, m.Devices,
		m.ReportLagSeconds, m.ReconcileQueue, m.HTTPRequestSeconds, m.Events,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}
