package server

import (
	"slices"
	"testing"
)

type recorder struct {
	fired []int64
	rearm int64 // when nonzero, re-arm this many ticks later once
	w     *wheel
	other *timer // stopped when this timer fires
}

func (r *recorder) onTimer(t *timer, now int64) {
	r.fired = append(r.fired, now)
	if r.other != nil {
		r.other.stop()
	}
	if r.rearm > 0 {
		d := r.rearm
		r.rearm = 0
		r.w.schedule(t, now+d)
	}
}

func TestWheelFiresAtTick(t *testing.T) {
	tests := []struct {
		name  string
		start int64
		at    int64
		steps []int64 // successive advance targets
		want  []int64 // ticks at which it fired
	}{
		{"next tick", 0, 1, []int64{1}, []int64{1}},
		{"past is next tick", 10, 3, []int64{11}, []int64{11}},
		{"not early", 0, 5, []int64{4}, nil},
		{"jump over", 0, 5, []int64{100}, []int64{5}},
		{"beyond one lap", 0, wheelSlots*2 + 7, []int64{wheelSlots, wheelSlots * 2, wheelSlots*2 + 6}, nil},
		{"beyond one lap fires", 0, wheelSlots*2 + 7, []int64{wheelSlots*2 + 7}, []int64{wheelSlots*2 + 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWheel(tt.start)
			r := &recorder{w: w}
			tm := &timer{owner: r}
			w.schedule(tm, tt.at)
			for _, s := range tt.steps {
				w.advance(s)
			}
			if !slices.Equal(r.fired, tt.want) {
				t.Fatalf("fired at %v, want %v", r.fired, tt.want)
			}
			if (len(tt.want) > 0) == tm.armed() {
				t.Fatalf("armed=%v after firing %v", tm.armed(), r.fired)
			}
		})
	}
}

func TestWheelRearmAndStop(t *testing.T) {
	w := newWheel(0)
	a := &recorder{w: w, rearm: wheelSlots} // re-arms into the same slot, one lap later
	ta := &timer{owner: a}
	b := &recorder{w: w}
	tb := &timer{owner: b}
	a.other = tb // firing a stops b, which sits in the same slot
	w.schedule(ta, 3)
	w.schedule(tb, 3)
	w.advance(3)
	if !slices.Equal(a.fired, []int64{3}) || len(b.fired) != 0 {
		t.Fatalf("a fired %v, b fired %v; want a at 3 and b stopped", a.fired, b.fired)
	}
	w.advance(3 + wheelSlots)
	if !slices.Equal(a.fired, []int64{3, 3 + wheelSlots}) {
		t.Fatalf("re-armed timer fired at %v", a.fired)
	}
	ta.stop()
	ta.stop()
}

func TestWheelManyTimersOrder(t *testing.T) {
	w := newWheel(0)
	var got []int64
	rs := make([]*recorder, 50)
	for i := range rs {
		rs[i] = &recorder{w: w}
		w.schedule(&timer{owner: rs[i]}, int64(50-i))
	}
	w.advance(60)
	for i, r := range rs {
		if len(r.fired) != 1 || r.fired[0] != int64(50-i) {
			t.Fatalf("timer %d fired %v", i, r.fired)
		}
		got = append(got, r.fired[0])
	}
}

func BenchmarkWheelScheduleAdvance(b *testing.B) {
	w := newWheel(0)
	r := &recorder{w: w}
	ts := make([]timer, 1024)
	for i := range ts {
		ts[i].owner = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := &ts[i&1023]
		w.schedule(t, w.now+int64(i&63)+1)
		if i&1023 == 1023 {
			w.advance(w.now + 1)
			r.fired = r.fired[:0]
		}
	}
}
