package cmq

import (
	"context"
	"time"
)

// Service is CMQ's queue API addressed by queue name: one method per CMQ
// action, named after it, so that a remote client maps them one to one.
// [Broker.Service] implements it in-process; the remote client in package
// cmqclient implements it over CMQ's HTTP API, against cmqd or
// Tencent's TDMQ-CMQ. Code written against Service moves between them by
// changing one constructor. See "One API, three places" in the package
// documentation for what differs over the wire.
//
// Errors are those of the [Broker] and [Queue] methods each action
// corresponds to, plus [ErrQueueNameFormat] and [ErrQueueNotExist] for the
// name; the entry checks are the same (see "Contexts" in the package
// documentation).
type Service interface {
	// CreateQueue is [Broker.CreateQueue]; it returns the new queue's id.
	CreateQueue(ctx context.Context, name string, attrs QueueAttributes) (queueID string, err error)
	// DeleteQueue is [Broker.DeleteQueue].
	DeleteQueue(ctx context.Context, name string) error
	// ListQueues is [Broker.ListQueues]: a page and the total count.
	ListQueues(ctx context.Context, o ListOptions) ([]QueueSummary, int, error)
	// GetQueueAttributes is [Queue.Attributes].
	GetQueueAttributes(ctx context.Context, name string) (QueueInfo, error)
	// SetQueueAttributes is [Queue.SetAttributes].
	SetQueueAttributes(ctx context.Context, name string, attrs QueueAttributes) error
	// RewindQueue is [Queue.Rewind].
	RewindQueue(ctx context.Context, name string, start time.Time) error
	// ListDeadLetterSourceQueues is [Broker.ListDeadLetterSourceQueues].
	ListDeadLetterSourceQueues(ctx context.Context, dlq string, o ListOptions) ([]QueueSummary, int, error)
	// UnbindDeadLetterQueue is [Queue.UnbindDeadLetterQueue].
	UnbindDeadLetterQueue(ctx context.Context, name string) error
	// SendMessage is [Queue.Send]; it returns the message id.
	SendMessage(ctx context.Context, queue, body string, delay time.Duration) (msgID string, err error)
	// BatchSendMessage is [Queue.BatchSend]; ids in the order of bodies.
	BatchSendMessage(ctx context.Context, queue string, bodies []string, delay time.Duration) ([]string, error)
	// ReceiveMessage is [Queue.Receive]; wait may be [QueueWait].
	ReceiveMessage(ctx context.Context, queue string, wait time.Duration) (Message, error)
	// BatchReceiveMessage is [Queue.BatchReceive].
	BatchReceiveMessage(ctx context.Context, queue string, n int, wait time.Duration) ([]Message, error)
	// DeleteMessage is [Queue.Delete].
	DeleteMessage(ctx context.Context, queue, receiptHandle string) error
	// BatchDeleteMessage is [Queue.BatchDelete]: one error per handle, and
	// the overall error.
	BatchDeleteMessage(ctx context.Context, queue string, receiptHandles []string) ([]error, error)
}

// ServiceExtensions are the Go-only actions CMQ's API lacks. A [Service]
// may implement them; the broker's does, a remote client does not. Check
// with a type assertion:
//
//	if x, ok := svc.(cmq.ServiceExtensions); ok { … }
type ServiceExtensions interface {
	// ChangeMessageVisibility is [Queue.ChangeVisibility].
	ChangeMessageVisibility(ctx context.Context, queue, receiptHandle string, timeout time.Duration) (time.Time, error)
	// PurgeQueue is [Queue.Purge].
	PurgeQueue(ctx context.Context, queue string) error
}

// Service returns the broker as a [Service], which also implements
// [ServiceExtensions]. Each of its methods makes the entry checks, looks
// the queue up by name and calls the [Queue] method. It holds nothing but
// b, so calling Service is cheap and every result is equivalent.
func (b *Broker) Service() Service { return brokerService{b} }

// brokerService is the in-process Service: a Broker addressed by name.
type brokerService struct{ b *Broker }

var (
	_ Service           = brokerService{}
	_ ServiceExtensions = brokerService{}
)

// queue makes the entry checks and looks name up.
func (s brokerService) queue(ctx context.Context, name string) (*Queue, error) {
	if err := s.b.enter(ctx); err != nil {
		return nil, err
	}
	return s.b.Queue(name)
}

func (s brokerService) CreateQueue(ctx context.Context, name string, attrs QueueAttributes) (string, error) {
	q, err := s.b.CreateQueue(ctx, name, attrs)
	if err != nil {
		return "", err
	}
	return q.ID(), nil
}

func (s brokerService) DeleteQueue(ctx context.Context, name string) error {
	return s.b.DeleteQueue(ctx, name)
}

func (s brokerService) ListQueues(ctx context.Context, o ListOptions) ([]QueueSummary, int, error) {
	return s.b.ListQueues(ctx, o)
}

func (s brokerService) GetQueueAttributes(ctx context.Context, name string) (QueueInfo, error) {
	q, err := s.queue(ctx, name)
	if err != nil {
		return QueueInfo{}, err
	}
	return q.Attributes(ctx)
}

func (s brokerService) SetQueueAttributes(ctx context.Context, name string, attrs QueueAttributes) error {
	q, err := s.queue(ctx, name)
	if err != nil {
		return err
	}
	return q.SetAttributes(ctx, attrs)
}

func (s brokerService) RewindQueue(ctx context.Context, name string, start time.Time) error {
	q, err := s.queue(ctx, name)
	if err != nil {
		return err
	}
	return q.Rewind(ctx, start)
}

func (s brokerService) ListDeadLetterSourceQueues(ctx context.Context, dlq string, o ListOptions) ([]QueueSummary, int, error) {
	return s.b.ListDeadLetterSourceQueues(ctx, dlq, o)
}

func (s brokerService) UnbindDeadLetterQueue(ctx context.Context, name string) error {
	q, err := s.queue(ctx, name)
	if err != nil {
		return err
	}
	return q.UnbindDeadLetterQueue(ctx)
}

func (s brokerService) SendMessage(ctx context.Context, queue, body string, delay time.Duration) (string, error) {
	q, err := s.queue(ctx, queue)
	if err != nil {
		return "", err
	}
	return q.Send(ctx, body, delay)
}

func (s brokerService) BatchSendMessage(ctx context.Context, queue string, bodies []string, delay time.Duration) ([]string, error) {
	q, err := s.queue(ctx, queue)
	if err != nil {
		return nil, err
	}
	return q.BatchSend(ctx, bodies, delay)
}

func (s brokerService) ReceiveMessage(ctx context.Context, queue string, wait time.Duration) (Message, error) {
	q, err := s.queue(ctx, queue)
	if err != nil {
		return Message{}, err
	}
	return q.Receive(ctx, wait)
}

func (s brokerService) BatchReceiveMessage(ctx context.Context, queue string, n int, wait time.Duration) ([]Message, error) {
	q, err := s.queue(ctx, queue)
	if err != nil {
		return nil, err
	}
	return q.BatchReceive(ctx, n, wait)
}

func (s brokerService) DeleteMessage(ctx context.Context, queue, receiptHandle string) error {
	q, err := s.queue(ctx, queue)
	if err != nil {
		return err
	}
	return q.Delete(ctx, receiptHandle)
}

func (s brokerService) BatchDeleteMessage(ctx context.Context, queue string, receiptHandles []string) ([]error, error) {
	q, err := s.queue(ctx, queue)
	if err != nil {
		return nil, err
	}
	return q.BatchDelete(ctx, receiptHandles)
}

func (s brokerService) ChangeMessageVisibility(ctx context.Context, queue, receiptHandle string, timeout time.Duration) (time.Time, error) {
	q, err := s.queue(ctx, queue)
	if err != nil {
		return time.Time{}, err
	}
	return q.ChangeVisibility(ctx, receiptHandle, timeout)
}

func (s brokerService) PurgeQueue(ctx context.Context, queue string) error {
	q, err := s.queue(ctx, queue)
	if err != nil {
		return err
	}
	return q.Purge(ctx)
}
