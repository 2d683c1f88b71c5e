// AvatarStream: speak text while it is still being written, over the service's WebSocket stream
// (GET /v1/avatar/stream, protocol in docs/streaming.md). Made by `player.stream({voiceId, speed})`:
//
//   const stream = player.stream({ voiceId: "en_US-joe-medium", speed: 1.0 });
//   for await (const token of llm) stream.write(token);   // any pieces, even half words
//   stream.end();                                          // no more text
//   await stream.finished;                                 // resolves when the last segment has played
//   // stream.interrupt() stops at once; the stream then takes new text.
//
// Audio: every segment's 16-bit PCM becomes an AudioBuffer played by an AudioBufferSourceNode on ONE
// AudioContext running at the voice's sample rate, started at `base + (offset_samples - baseSample) / rate`
// (Web Audio API, AudioScheduledSourceNode.start(when)): segment n+1 starts on the very sample where n ends,
// with no gap and no overlap, however late it arrived — as long as it arrived before that time. If it came
// too late (an underrun), the whole timeline shifts later by the delay and an "underrun" event says so.
//
// Face: the player follows this stream's clock instead of its <audio> element: stream time =
// (context.currentTime − outputLatency − base) + baseSample / rate, and the segments' cue and eye times are
// absolute stream times, so the mouth shows at audio time t the cue for t.
//
// Events (stream.addEventListener): "ready", "segment" (the server's message), "underrun", "interrupted",
// "done" (the server has sent everything), "error" ({detail, field}: a refused message; the stream goes on),
// "close" ({code, reason}).

// The first segment of a run is scheduled this far ahead of the context's current time: a jitter buffer. The
// buffer must reach the audio thread (one 128-frame render quantum is 5.8 ms at 22.05 kHz), and the next
// segments must arrive before their turn: with ten streams starting together on 2 cores, the tightest second
// segment arrived 5 ms before a 30 ms lead ran out (and 35 ms after it with slower renders), so any other load
// would have made gaps. 100 ms keeps a ~75 ms margin and write() → sound within 250 ms (docs/streaming.md).
// src/avatar_service/stream/playback.py models the same value.
const START_LEAD_S = 0.1;

function streamUrl(player) {
  const url = new URL("v1/avatar/stream", player.apiBaseUrl());
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export class AvatarStream extends EventTarget {
  constructor(player, { voiceId = null, speed = 1.0, sampleRate = 22050 } = {}) {
    super();
    this.player = player;
    // One clock for every segment. Piper voices run at 22.05 kHz (medium) or 16 kHz (low); a context at the
    // voice's own rate plays the buffers unresampled, sample for sample.
    this.context = new AudioContext({ sampleRate, latencyHint: "interactive" });
    this.context.resume().catch(() => {});
    this.sampleRate = sampleRate;
    this.socket = new WebSocket(streamUrl(player));
    this.socket.binaryType = "arraybuffer";
    this.outbox = [{ type: "start", voice_id: voiceId || null, speed, format: "pcm16" }];
    this.pendingSegment = null; // the segment message whose audio frame comes next
    this.base = null; // {time, sample}: context time at which stream sample `sample` plays
    this.sources = new Set();
    this.scheduled = []; // {seq, startTime, endTime, offsetSamples, numSamples}: what was scheduled when
    this.underruns = 0;
    this.speech = null;
    this.doneReceived = false;
    this.ended = false;
    this.dropping = false; // after interrupt(), until the server confirms: segments still on the wire are dropped
    this.firstWriteAt = null; // performance.now() of the first write(), and when its first sample is heard
    this.firstAudibleAt = null;
    this.finished = new Promise((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    this.finished.catch(() => {}); // a caller that never awaits it must not see an unhandled rejection
    this.socket.addEventListener("open", () => this.flushOutbox());
    this.socket.addEventListener("message", (event) => this.receive(event.data));
    this.socket.addEventListener("close", (event) => this.closed(event));
  }

  /** Append text (any piece: a token, half a word, a paragraph). */
  write(text) {
    if (this.firstWriteAt === null) this.firstWriteAt = performance.now();
    this.send({ type: "text", text });
  }

  /** Speak what has been written so far now, even mid-sentence. */
  flush() {
    this.send({ type: "flush" });
  }

  /** No more text: `finished` resolves once everything written has been spoken. */
  end() {
    this.ended = true;
    this.send({ type: "end" });
  }

  /** Stop at once: silence the audio, drop what is pending. The stream then takes new text. */
  interrupt() {
    this.stopAudio();
    this.ended = false;
    this.doneReceived = false;
    this.dropping = true;
    this.pendingSegment = null;
    this.send({ type: "interrupt" });
  }

  /** Close the connection and release the audio (also done by itself after the last segment played). */
  close() {
    this.stopAudio();
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, "client closed");
    if (this.context.state !== "closed") this.context.close().catch(() => {});
  }

  /** Where the stream's audio is now, in stream milliseconds (what is being heard). */
  clockMs() {
    if (this.base === null) return 0;
    const heard = this.context.currentTime - (this.context.outputLatency || 0);
    return (heard - this.base.time) * 1000 + (this.base.sample * 1000) / this.sampleRate;
  }

  send(message) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
    else this.outbox.push(message);
  }

  flushOutbox() {
    for (const message of this.outbox.splice(0)) this.socket.send(JSON.stringify(message));
  }

  receive(data) {
    if (data instanceof ArrayBuffer) {
      const segment = this.pendingSegment;
      this.pendingSegment = null;
      if (segment) this.schedule(segment, new Int16Array(data));
      return;
    }
    const message = JSON.parse(data);
    if (message.type === "segment") {
      if (this.dropping) return;
      this.pendingSegment = message;
    } else if (message.type === "ready") {
      if (message.sample_rate !== this.sampleRate) {
        // A voice at another rate: a context at its rate keeps the scheduling sample-exact.
        this.context.close().catch(() => {});
        this.context = new AudioContext({ sampleRate: message.sample_rate, latencyHint: "interactive" });
        this.sampleRate = message.sample_rate;
      }
    } else if (message.type === "done") {
      this.doneReceived = true;
      this.finishWhenPlayed();
    } else if (message.type === "interrupted") {
      this.dropping = false;
    }
    this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
  }

  schedule(segment, pcm) {
    const context = this.context;
    const rate = this.sampleRate;
    const now = context.currentTime;
    if (this.base === null) this.base = { time: now + START_LEAD_S, sample: segment.offset_samples };
    let startTime = this.base.time + (segment.offset_samples - this.base.sample) / rate;
    const late = startTime < now;
    if (late) {
      // Arrived after its start time: shift the rest of the stream later rather than cut or overlap it.
      this.base.time += now + START_LEAD_S - startTime;
      startTime = this.base.time + (segment.offset_samples - this.base.sample) / rate;
      this.underruns += 1;
      this.dispatchEvent(new CustomEvent("underrun", { detail: { seq: segment.seq } }));
    }
    const buffer = context.createBuffer(1, Math.max(1, pcm.length), rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i += 1) channel[i] = pcm[i] / 32768;
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    source.addEventListener("ended", () => {
      this.sources.delete(source);
      this.finishWhenPlayed();
    });
    source.start(startTime);
    this.sources.add(source);
    this.scheduled.push({
      seq: segment.seq,
      startTime,
      endTime: startTime + pcm.length / rate,
      offsetSamples: segment.offset_samples,
      numSamples: pcm.length,
      underrun: late,
    });
    if (this.firstAudibleAt === null && this.firstWriteAt !== null) {
      // getOutputTimestamp maps the context clock to performance.now() at the speakers.
      const stamp = context.getOutputTimestamp();
      const contextTime = stamp.contextTime ?? now;
      const performanceTime = stamp.performanceTime || performance.now();
      this.firstAudibleAt = performanceTime + (startTime - contextTime) * 1000;
    }
    this.follow(segment);
  }

  /** Hand the segment's absolute cue and eye times to the player, whose face follows clockMs(). */
  follow(segment) {
    if (this.speech === null || this.speech.endedAt !== null) {
      this.player.stop();
      const speech = {
        cues: [],
        events: [],
        endedAt: null,
        endMs: 0,
        clockMs: () => this.clockMs(),
        // Called by player.stop() (or a new speak()): the stream stops with the player.
        finish: () => this.interrupt(),
      };
      this.speech = speech;
      this.player.speech = speech;
      this.player.dispatchEvent(new CustomEvent("speechstart", { detail: { stream: this } }));
    }
    this.speech.cues.push(...segment.mouth_cues);
    this.speech.events.push(...segment.eye_events);
  }

  finishWhenPlayed() {
    if (!this.doneReceived || this.sources.size > 0) return;
    this.endSpeech();
    this.resolveFinished(this);
    this.close();
  }

  /** The face relaxes from where the audio stopped, as after player.speak(). */
  endSpeech() {
    const speech = this.speech;
    if (speech === null || speech.endedAt !== null) return;
    speech.endMs = this.clockMs();
    speech.endedAt = performance.now();
    this.player.dispatchEvent(new CustomEvent("speechend", { detail: { stream: this } }));
  }

  stopAudio() {
    for (const source of this.sources) {
      source.stop();
      source.disconnect();
    }
    this.sources.clear();
    this.endSpeech();
    this.base = null; // the next segment starts a new run, scheduled from "now"
  }

  closed(event) {
    this.dispatchEvent(new CustomEvent("close", { detail: { code: event.code, reason: event.reason } }));
    // After `done` the server closes the connection while the last segments still play: let them finish.
    if (this.doneReceived) return;
    this.stopAudio();
    if (this.context.state !== "closed") this.context.close().catch(() => {});
    this.rejectFinished(new Error(`stream closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`));
  }
}
