// loadgen: the benchmark's HTTP load generator (iotpipe/bench/loadgen.py builds and runs it).
//
// Closed loop, like wrk: each of -c keep-alive connections POSTs the body, waits for the
// whole answer, optionally pauses (-delay-ms, to pace a connection below its peak), and
// goes again until -d has passed. A request in flight at the deadline is waited for and
// counted, so the count printed is exactly the answers the server sent.
//
// Built the way wrk is, so that it costs the machine it measures about what wrk does:
// one OS thread, non-blocking sockets and one epoll loop for every connection, the
// request serialized once. Against the bench's ASGI no-op on 2 cores it used 14-16 us
// of CPU per request, wrk 13-16; a goroutine per connection (fasthttp's client) used
// 27-34, mostly the runtime parking and waking goroutines and threads. Linux only,
// plain HTTP/1.1 only: what the bench needs.
//
// Output: one JSON line, the fields wrk's script in iotpipe/bench/wrk.py prints:
// requests, duration_us, non2xx, errors, p50_us, p99_us, mean_us.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

type summary struct {
	Requests   int     `json:"requests"`
	DurationUs int64   `json:"duration_us"`
	Non2xx     int     `json:"non2xx"`
	Errors     int     `json:"errors"`
	P50Us      int64   `json:"p50_us"`
	P99Us      int64   `json:"p99_us"`
	MeanUs     float64 `json:"mean_us"`
}

type state int

const edge uint32 = 1 << 31 // EPOLLET

const (
	connecting state = iota
	writing
	reading
	pausing
	finished
)

type conn struct {
	fd      int
	state   state
	written int       // bytes of the request sent
	buf     []byte    // the answer so far
	sent    time.Time // when the request's first byte went out
	resume  time.Time // end of the pause
}

type run struct {
	epfd      int
	addr      syscall.Sockaddr
	family    int
	request   []byte
	pause     time.Duration
	timeout   time.Duration
	deadline  time.Time
	conns     []*conn
	byFd      map[int]*conn
	latencies []int64 // microseconds, one per answer
	lower     []byte  // an answer's head in lower case (parse's, reused)
	non2xx    int
	errors    int
}

func main() {
	target := flag.String("url", "", "http:// URL to POST to")
	connections := flag.Int("c", 32, "connections")
	seconds := flag.Float64("d", 10, "duration in seconds")
	bodyFile := flag.String("body", "", "file holding the request body (JSON)")
	delayMs := flag.Float64("delay-ms", 0, "pause after each answer, per connection")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	out, err := start(*target, *connections, *seconds, *bodyFile, *delayMs, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func start(target string, connections int, seconds float64, bodyFile string, delayMs float64,
	timeout time.Duration) (summary, error) {
	parsed, err := url.Parse(target)
	if err != nil || parsed.Scheme != "http" || parsed.Host == "" {
		return summary{}, fmt.Errorf("-url must be a plain http:// URL, got %q", target)
	}
	if connections < 1 || seconds <= 0 {
		return summary{}, errors.New("-c must be at least 1 and -d above 0")
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return summary{}, err
	}
	hostport := parsed.Host
	if parsed.Port() == "" {
		hostport = net.JoinHostPort(parsed.Hostname(), "80")
	}
	tcp, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return summary{}, err
	}
	r := &run{pause: time.Duration(delayMs * float64(time.Millisecond)), timeout: timeout,
		byFd: map[int]*conn{}}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		a := &syscall.SockaddrInet4{Port: tcp.Port}
		copy(a.Addr[:], ip4)
		r.addr, r.family = a, syscall.AF_INET
	} else {
		a := &syscall.SockaddrInet6{Port: tcp.Port}
		copy(a.Addr[:], tcp.IP.To16())
		r.addr, r.family = a, syscall.AF_INET6
	}
	head := "POST " + parsed.RequestURI() + " HTTP/1.1\r\nHost: " + parsed.Host +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	if auth := os.Getenv("LOADGEN_AUTH"); auth != "" { // a key stays out of ps
		head += "Authorization: Bearer " + auth + "\r\n"
	}
	r.request = append([]byte(head+"\r\n"), body...)
	if r.epfd, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		return summary{}, err
	}
	began := time.Now()
	r.deadline = began.Add(time.Duration(seconds * float64(time.Second)))
	for range connections {
		c := &conn{fd: -1, buf: make([]byte, 0, 4096)}
		r.conns = append(r.conns, c)
		if err := r.open(c); err != nil {
			return summary{}, err // the first connections failing: nothing to measure
		}
	}
	r.loop()
	return r.summarize(time.Since(began)), nil
}

// open connects c afresh (non-blocking) and sends the request once connected.
func (r *run) open(c *conn) error {
	fd, err := syscall.Socket(r.family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	c.fd, c.state, c.written, c.buf, c.sent = fd, connecting, 0, c.buf[:0], time.Now()
	r.byFd[fd] = c
	if err := syscall.Connect(fd, r.addr); err != nil && err != syscall.EINPROGRESS {
		r.drop(c)
		return err
	}
	// Edge-triggered: each read and write goes on until it would block, so no edge is missed.
	event := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | edge, Fd: int32(fd)}
	return syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, fd, &event)
}

func (r *run) drop(c *conn) {
	delete(r.byFd, c.fd)
	_ = syscall.Close(c.fd) // also leaves the epoll set
	c.fd = -1
}

// fail counts a request that got no answer and, before the deadline, reconnects.
func (r *run) fail(c *conn) {
	r.errors++
	r.drop(c)
	if time.Now().Before(r.deadline) && r.open(c) == nil {
		return
	}
	c.state = finished
}

func (r *run) loop() {
	events := make([]syscall.EpollEvent, 256)
	for {
		now := time.Now()
		wait, active := 100*time.Millisecond, 0
		for _, c := range r.conns {
			switch c.state {
			case finished:
				continue
			case pausing:
				if !now.Before(c.resume) {
					r.next(c, now)
				} else {
					wait = min(wait, c.resume.Sub(now))
				}
			case connecting, writing, reading:
				if now.Sub(c.sent) > r.timeout {
					r.fail(c)
				}
			}
			if c.state != finished {
				active++
			}
		}
		if active == 0 {
			return
		}
		ms := int((wait + time.Millisecond - 1) / time.Millisecond)
		n, err := epollWait(r.epfd, events, ms)
		if err != 0 && err != syscall.EINTR {
			return
		}
		for _, event := range events[:max(n, 0)] {
			if c, ok := r.byFd[int(event.Fd)]; ok {
				r.ready(c, event.Events)
			}
		}
	}
}

// epollWait is epoll_wait as a raw system call. Through syscall.EpollWait, a wait that
// blocks hands the thread's P to the runtime and takes it back (futex wake-ups, sysmon
// spinning): strace counted more futex and nanosleep calls than reads, and 1.6 times
// wrk's kernel time per request. Raw, the one goroutine keeps its thread; the runtime's
// preemption signal (EINTR) only ends a wait early.
func epollWait(epfd int, events []syscall.EpollEvent, ms int) (int, syscall.Errno) {
	n, _, err := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(ms), 0, 0)
	return int(n), err
}

// next starts c's next request (on a fresh connection if the server closed the last
// one: sent once connected), or ends c at the deadline.
func (r *run) next(c *conn, now time.Time) {
	switch {
	case !now.Before(r.deadline):
		if c.fd >= 0 {
			r.drop(c)
		}
		c.state = finished
	case c.fd < 0:
		if r.open(c) != nil {
			r.errors++
			c.state = finished
		}
	default:
		c.state, c.written, c.buf, c.sent = writing, 0, c.buf[:0], now
		r.write(c)
	}
}

func (r *run) ready(c *conn, events uint32) {
	if c.state == connecting {
		if code, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR); err != nil || code != 0 {
			r.fail(c)
			return
		}
		c.state = writing
	}
	if c.state == writing && events&syscall.EPOLLOUT != 0 {
		r.write(c)
	}
	if c.state == reading && events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		r.read(c)
	} else if events&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && c.state != pausing {
		r.fail(c)
	}
}

func (r *run) write(c *conn) {
	for c.written < len(r.request) {
		n, err := syscall.Write(c.fd, r.request[c.written:])
		if err == syscall.EAGAIN {
			return // EPOLLOUT says when to go on
		}
		if err != nil {
			r.fail(c)
			return
		}
		c.written += n
	}
	c.state = reading
}

func (r *run) read(c *conn) {
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = slices.Grow(c.buf, cap(c.buf))
		}
		n, err := syscall.Read(c.fd, c.buf[len(c.buf):cap(c.buf)])
		if err == syscall.EAGAIN {
			return
		}
		if err != nil || n == 0 { // reset, or closed before a whole answer
			r.fail(c)
			return
		}
		room := cap(c.buf) - len(c.buf)
		c.buf = c.buf[:len(c.buf)+n]
		status, done, closing, bad := parse(c.buf, &r.lower)
		if bad {
			r.fail(c)
			return
		}
		if !done {
			if n < room {
				return // the socket is drained: the next edge brings the rest, no read to EAGAIN
			}
			continue
		}
		now := time.Now()
		r.latencies = append(r.latencies, now.Sub(c.sent).Microseconds())
		if status < 200 || status > 299 {
			r.non2xx++
		}
		if closing { // the server ends the connection: the next request opens a fresh one
			r.drop(c)
		}
		if r.pause > 0 {
			c.state, c.resume = pausing, now.Add(r.pause)
			return
		}
		r.next(c, now)
		return
	}
}

var (
	crlf2         = []byte("\r\n\r\n")
	contentLength = []byte("content-length:")
	chunked       = []byte("transfer-encoding: chunked")
	connClose     = []byte("connection: close")
)

// parse reads an HTTP/1.1 answer from buf: its status, whether it is whole, whether the
// server closes the connection after it, and whether it cannot be read at all.
func parse(buf []byte, lower *[]byte) (status int, done, closing, bad bool) {
	end := bytes.Index(buf, crlf2)
	if end < 0 {
		return 0, false, false, len(buf) > 64<<10
	}
	head := append((*lower)[:0], buf[:end]...)
	for i, b := range head {
		if 'A' <= b && b <= 'Z' {
			head[i] = b + 'a' - 'A'
		}
	}
	*lower = head
	if len(head) < 12 || !bytes.HasPrefix(head, []byte("http/1.")) {
		return 0, false, false, true
	}
	status, err := strconv.Atoi(string(head[9:12]))
	if err != nil {
		return 0, false, false, true
	}
	closing = bytes.Contains(head, connClose)
	body := buf[end+4:]
	if i := bytes.Index(head, contentLength); i >= 0 {
		line := head[i+len(contentLength):]
		if j := bytes.IndexByte(line, '\r'); j >= 0 {
			line = line[:j]
		}
		length, err := strconv.Atoi(string(bytes.TrimSpace(line)))
		if err != nil {
			return status, false, closing, true
		}
		return status, len(body) >= length, closing, false
	}
	if bytes.Contains(head, chunked) {
		whole, bad := chunksDone(body)
		return status, whole, closing, bad
	}
	return status, true, closing, false // no body (1xx, 204, 304 or an empty answer)
}

// chunksDone says whether a chunked body is complete (last chunk and trailers read).
func chunksDone(body []byte) (whole, bad bool) {
	for {
		line := bytes.Index(body, []byte("\r\n"))
		if line < 0 {
			return false, false
		}
		sizeText, _, _ := bytes.Cut(body[:line], []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return false, true
		}
		body = body[line+2:]
		if size == 0 { // trailers, then an empty line
			return bytes.HasPrefix(body, []byte("\r\n")) || bytes.Contains(body, crlf2), false
		}
		if int64(len(body)) < size+2 {
			return false, false
		}
		body = body[size+2:]
	}
}

func (r *run) summarize(elapsed time.Duration) summary {
	out := summary{DurationUs: elapsed.Microseconds(), Requests: len(r.latencies),
		Non2xx: r.non2xx, Errors: r.errors}
	if len(r.latencies) == 0 {
		return out
	}
	slices.Sort(r.latencies)
	var total int64
	for _, v := range r.latencies {
		total += v
	}
	out.MeanUs = float64(total) / float64(len(r.latencies))
	out.P50Us = percentile(r.latencies, 50)
	out.P99Us = percentile(r.latencies, 99)
	return out
}

// percentile of sorted values: the smallest value with at least p % of them at or below it.
func percentile(sorted []int64, p float64) int64 {
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}
