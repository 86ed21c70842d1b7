package sdk

import "sync"

// maxBatchBytes bounds the payload a sender coalesces into one stream
// message, well under MaxMessageSize; a single larger frame still goes
// alone.
const maxBatchBytes = 1 << 20

// maxBatchFrames bounds the frames of one stream message.
const maxBatchFrames = 256

// maxDrainRounds bounds how many batches a caller sends for others before
// it hands the rest to a new goroutine and returns to its own call.
const maxDrainRounds = 4

// batcher sends frames over a stream whose Send must not be called
// concurrently, without a sender goroutine: the caller that finds nobody
// sending sends its frame itself (no hand-off on an idle stream), and frames
// queued meanwhile by other callers go out together in its next message (a
// batch under load). Callers never wait for one another's Send: a caller
// that finds a send in progress queues its frame and returns.
type batcher[F any] struct {
	// send sends frames as one stream message; it is called by one
	// goroutine at a time and must not keep the slice.
	send func(frames []F) error
	// size estimates a frame's payload in bytes.
	size func(F) int
	// failed is called once, with the first error send returns.
	failed func(error)

	mu      sync.Mutex
	queue   []F
	spare   []F
	sending bool
	err     error
}

// push sends f, or queues it behind the send in progress. It returns the
// stream's error once a send has failed.
func (b *batcher[F]) push(f F) error {
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return err
	}
	b.queue = append(b.queue, f)
	if b.sending {
		b.mu.Unlock()
		return nil
	}
	b.sending = true
	b.mu.Unlock()
	return b.drain(maxDrainRounds)
}

// drain sends queued frames until the queue is empty, or for rounds batches
// (rounds < 0: no bound) after which a new goroutine takes over. The caller
// must have set b.sending.
func (b *batcher[F]) drain(rounds int) error {
	for i := 0; ; i++ {
		b.mu.Lock()
		if len(b.queue) == 0 || b.err != nil {
			b.sending = false
			err := b.err
			b.mu.Unlock()
			return err
		}
		if rounds >= 0 && i == rounds {
			b.mu.Unlock()
			go func() { _ = b.drain(-1) }()
			return nil
		}
		batch, rest := b.take()
		b.mu.Unlock()
		err := b.send(batch)
		b.mu.Lock()
		clear(batch)
		b.spare = batch[:0]
		if rest != nil {
			b.queue = append(rest, b.queue...)
		}
		if err != nil && b.err == nil {
			b.err = err
			b.queue = nil
			b.mu.Unlock()
			b.failed(err)
			b.mu.Lock()
		}
		b.mu.Unlock()
	}
}

// take removes the next batch from the queue: as many frames as fit the
// bounds, at least one. Frames left over are returned as rest, to be put
// back in front of what was queued meanwhile. b.mu must be held.
func (b *batcher[F]) take() (batch, rest []F) {
	n, bytes := 0, 0
	for n < len(b.queue) && n < maxBatchFrames {
		bytes += b.size(b.queue[n])
		if n > 0 && bytes > maxBatchBytes {
			break
		}
		n++
	}
	batch = b.queue
	if n < len(batch) {
		rest = append([]F(nil), batch[n:]...)
		batch = batch[:n]
	}
	b.queue = b.spare
	b.spare = nil
	return batch, rest
}
