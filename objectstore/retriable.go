package objectstore

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/aws/smithy-go"
)

// IsRetriable reports whether an operation that failed with err may succeed
// if tried again unchanged: network failures, truncated bodies, S3 5xx
// answers, throttling (SlowDown, 503, 429) and the faults Faulty injects.
// It is false for nil, for missing objects, for the caller's context being
// canceled or past its deadline, and for anything else (bad keys, access
// denied, a full disk), which retrying would only repeat.
func IsRetriable(err error) bool {
	if err == nil || IsNotExist(err) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrClosed) {
		return false
	}
	var fault *FaultError
	if errors.As(err, &fault) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
			"Throttling", "ThrottlingException", "RequestThrottled",
			"TooManyRequestsException", "XMinioServerNotInitialized":
			return true
		}
	}
	if s := httpStatus(err); s >= 500 || s == 429 || s == 408 {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// httpStatus returns the HTTP status code an error carries, or 0.
func httpStatus(err error) int {
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		return withStatus.HTTPStatusCode()
	}
	return 0
}
