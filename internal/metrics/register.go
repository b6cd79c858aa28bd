package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns it. When reg already holds a collector with the
// same descriptor and of the same type C, that collector is returned instead and the error is
// nil, so that every user of the metric updates the one reg exposes. Any other failure (a
// clash of name with different labels or help, or a collector of another type) returns c with
// the registry's error.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// RegisterTo is Register for a constructor that registers several collectors: it adds the
// error, if any, to errs instead of returning it, so that the constructor reports every
// collector it could not register at once (errors.Join(*errs...)).
func RegisterTo[C prometheus.Collector](reg prometheus.Registerer, c C, errs *[]error) C {
	c, err := Register(reg, c)
	if err != nil {
		*errs = append(*errs, err)
	}
	return c
}
