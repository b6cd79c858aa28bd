package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func counter(help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: help})
}

func TestRegister(t *testing.T) {
	t.Run("a new collector is registered and returned", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		c := counter("x")
		got, err := Register(reg, c)
		if err != nil || got != c {
			t.Fatalf("Register = %v, %v; want the collector itself, nil", got, err)
		}
		if !reg.Unregister(c) {
			t.Error("the collector was not registered")
		}
	})
	t.Run("a collector reg already holds is reused, not an error", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		first := counter("x")
		if _, err := Register(reg, first); err != nil {
			t.Fatal(err)
		}
		got, err := Register(reg, counter("x"))
		if err != nil || got != first {
			t.Fatalf("Register = %v, %v; want the first collector, nil", got, err)
		}
		got.Inc()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if len(mfs) != 1 || mfs[0].GetMetric()[0].GetCounter().GetValue() != 1 {
			t.Errorf("the registry does not show the increment through the reused collector: %v", mfs)
		}
	})
	t.Run("an existing collector of another type is an error", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, nil)
		if _, err := Register(reg, vec); err != nil {
			t.Fatal(err)
		}
		c := counter("x")
		got, err := Register(reg, c)
		if err == nil || got != c {
			t.Fatalf("Register = %v, %v; want the new collector and an error", got, err)
		}
	})
	t.Run("a clash of help under one name is an error", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := Register(reg, counter("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := Register(reg, counter("other help")); err == nil {
			t.Fatal("Register accepted a second collector whose help differs")
		}
	})
}

func TestRegisterToCollectsEveryError(t *testing.T) {
	reg := prometheus.NewRegistry()
	var errs []error
	first := RegisterTo(reg, counter("x"), &errs)
	again := RegisterTo(reg, counter("x"), &errs) // reused: no error
	clash1 := RegisterTo(reg, counter("other help"), &errs)
	clash2 := RegisterTo(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_total", Help: "x"}), &errs)
	if again != first {
		t.Error("the collector reg already holds was not reused")
	}
	if len(errs) != 2 || clash1 == nil || clash2 == nil {
		t.Fatalf("want the two clashes reported and their collectors returned, got %v", errs)
	}
}
