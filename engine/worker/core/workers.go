package core

import "time"

// workerIdle is how long an idle worker waits for the next chain run.
const workerIdle = 10 * time.Second

// workerPool runs chain runs on reused goroutines. A new goroutine starts with a
// small stack that the executor's call depth grows, by copying, on every run: with
// one goroutine per Envoy message that cost more than the policies (pprof of the
// engine under load). A worker whose policy hangs stays with it (abandoned), and one
// that a policy ends (runtime.Goexit) is gone; the pool starts another when no
// worker is idle.
type workerPool struct {
	tasks chan func()
}

var workers = workerPool{tasks: make(chan func())}

// run hands task to an idle worker, or to a new one.
func (p *workerPool) run(task func()) {
	select {
	case p.tasks <- task:
	default:
		go p.loop(task)
	}
}

func (p *workerPool) loop(task func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		task()
		idle.Reset(workerIdle)
		select {
		case task = <-p.tasks:
		case <-idle.C:
			return
		}
	}
}
