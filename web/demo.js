// The demo page: wires the form to an AvatarPlayer. Query parameters: `api` (service base URL, default this
// origin), `avatar` (pack id to show first), `motion=0` (no head motion).
//
// Test hook: `window.avatarDemo = {player, calibration, ready, stream}`; `ready` resolves once the voice list,
// the avatar list and the first pack have loaded (the browser tests wait on it); `stream` is the last
// AvatarStream of the stream mode.

import { AvatarPlayer } from "./player/avatar-player.js";
import { Calibration } from "./player/calibration.js";

const DEFAULT_AVATAR = "grace_hopper_v1";
// Stream mode writes one word at a time at about the pace a language model produces them.
const STREAM_WORDS_PER_SECOND = 15;

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const ui = {
  form: $("speak-form"),
  text: $("text"),
  charCount: $("char-count"),
  voice: $("voice"),
  speed: $("speed"),
  speedValue: $("speed-value"),
  avatar: $("avatar-select"),
  speak: $("speak"),
  streamMode: $("stream-mode"),
  status: $("status"),
  error: $("error"),
  calibrate: $("calibrate"),
  calibrationPart: $("calibration-part"),
  calibrationValues: $("calibration-values"),
  copyManifest: $("copy-manifest"),
  resetCalibration: $("reset-calibration"),
  manifestJson: $("manifest-json"),
  attribution: $("attribution"),
};

const motionParam = params.get("motion");
const player = new AvatarPlayer($("avatar"), {
  apiBase: params.get("api") ?? "",
  ...(motionParam !== null && { motion: motionParam !== "0" }),
});
const calibration = new Calibration(player);

function setStatus(text, busy = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle("busy", busy);
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

async function getJson(path) {
  const response = await fetch(new URL(path, player.apiBaseUrl()));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/** `/v1/voices` as [{id, label}] and the default id; accepts a list of ids or of objects, or {voices, default}. */
function readVoices(body) {
  const list = Array.isArray(body) ? body : body.voices ?? [];
  const voices = list.map((voice) => {
    const id = typeof voice === "string" ? voice : voice.id ?? voice.voice_id;
    return { id, label: voice.name ?? id, isDefault: Boolean(voice.default) };
  });
  const defaultId = body.default ?? body.default_voice ?? voices.find((voice) => voice.isDefault)?.id ?? null;
  return { voices, defaultId };
}

async function loadVoices() {
  const { voices, defaultId } = readVoices(await getJson("v1/voices"));
  ui.voice.replaceChildren(
    ...voices.map(({ id, label }) => new Option(id === defaultId ? `${label} (default)` : label, id)),
  );
  if (defaultId) ui.voice.value = defaultId;
}

async function loadAvatars() {
  const avatars = await getJson("v1/avatars");
  if (!avatars.length) throw new Error("the service lists no avatar packs (GET /v1/avatars)");
  ui.avatar.replaceChildren(...avatars.map(({ id, name }) => new Option(name ?? id, id)));
  for (const option of ui.avatar.options) option.dataset.manifestUrl = avatars[option.index].manifest_url;
  const wanted = params.get("avatar") ?? DEFAULT_AVATAR;
  const found = avatars.some(({ id }) => id === wanted);
  ui.avatar.value = found ? wanted : avatars.some(({ id }) => id === DEFAULT_AVATAR) ? DEFAULT_AVATAR : avatars[0].id;
  if (!found && params.has("avatar")) {
    // Say so rather than silently showing another face (a pack made in another PACKS_DIR, a typo).
    showError(`No avatar pack "${wanted}" here; showing ${ui.avatar.value}. Known: ${avatars.map(({ id }) => id).join(", ")}`);
  }
}

async function showAvatar() {
  const option = ui.avatar.selectedOptions[0];
  setStatus(`Loading ${option.textContent}…`, true);
  const manifest = await player.loadPack(new URL(option.dataset.manifestUrl, player.apiBaseUrl()).href);
  calibration.applySaved();
  updateCalibrationView();
  ui.attribution.textContent = manifest.attribution ? `Avatar: ${manifest.attribution}` : "";
  setStatus("Ready");
}

/** Stream mode: the text goes to the service word by word while the avatar already speaks. */
async function speakStreaming() {
  const stream = player.stream({ voiceId: ui.voice.value, speed: Number(ui.speed.value) });
  window.avatarDemo.stream = stream;
  stream.addEventListener("error", (event) => showError(event.detail.detail));
  stream.addEventListener("segment", () => setStatus("Speaking (streaming)"));
  setStatus("Streaming…", true);
  const words = ui.text.value.split(/(?<=\s)/); // keep each word's trailing space
  for (const word of words) {
    if (stream.socket.readyState > WebSocket.OPEN) break;
    stream.write(word);
    await new Promise((resolve) => setTimeout(resolve, 1000 / STREAM_WORDS_PER_SECOND));
  }
  stream.end();
  await stream.finished;
}

async function speak() {
  showError("");
  ui.speak.disabled = true;
  if (ui.streamMode.checked) {
    try {
      await speakStreaming();
    } catch (error) {
      showError(error.message);
    } finally {
      setStatus("Ready");
      ui.speak.disabled = false;
    }
    return;
  }
  setStatus("Rendering…", true);
  try {
    const result = await player.render(ui.text.value, { voiceId: ui.voice.value, speed: Number(ui.speed.value) });
    setStatus(`Speaking (${(result.duration_ms / 1000).toFixed(1)} s${result.cached ? ", cached" : ""})`);
    await player.speak(result);
    setStatus("Ready");
  } catch (error) {
    showError(error.message);
    setStatus("Ready");
  } finally {
    ui.speak.disabled = false;
  }
}

function updateCalibrationView() {
  ui.calibrate.checked = calibration.enabled;
  ui.calibrationPart.textContent = calibration.part;
  if (!player.pack) return;
  const { anchor, size } = player.getLayout(calibration.part);
  ui.calibrationValues.textContent = `anchor ${anchor.x},${anchor.y} size ${size.width}×${size.height}`;
}

async function copyManifest() {
  const json = calibration.manifestJson();
  ui.manifestJson.value = json;
  ui.manifestJson.hidden = false;
  try {
    await navigator.clipboard.writeText(json);
    setStatus("Manifest JSON copied to the clipboard");
  } catch {
    ui.manifestJson.select(); // no clipboard permission (e.g. plain http): the JSON is shown to copy by hand
    setStatus("Select and copy the manifest JSON below");
  }
}

// Single-letter shortcuts must not fire while the user types into a text field.
function isTyping(target) {
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) return !["checkbox", "button", "submit"].includes(target.type);
  return Boolean(target?.isContentEditable);
}

function onKey(event) {
  if (isTyping(event.target)) return;
  if (calibration.handleKey(event)) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === "t") player.toggleOverlay();
  else if (key === "c") calibration.setEnabled(!calibration.enabled);
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  speak();
});
ui.text.addEventListener("input", () => (ui.charCount.textContent = ui.text.value.length));
ui.charCount.textContent = ui.text.value.length;
ui.speed.addEventListener("input", () => (ui.speedValue.textContent = `${Number(ui.speed.value).toFixed(2)}×`));
ui.avatar.addEventListener("change", () => showAvatar().catch((error) => showError(error.message)));
ui.calibrate.addEventListener("change", () => calibration.setEnabled(ui.calibrate.checked));
ui.copyManifest.addEventListener("click", copyManifest);
ui.resetCalibration.addEventListener("click", () => calibration.reset());
calibration.addEventListener("change", updateCalibrationView);
player.addEventListener("layoutchange", updateCalibrationView);
document.addEventListener("keydown", onKey);

const ready = Promise.all([loadVoices(), loadAvatars().then(showAvatar)]).catch((error) => {
  showError(`Could not start the demo: ${error.message}`);
  setStatus("");
  throw error;
});
ready.catch(() => {}); // shown in the page above; the test hook below still sees the rejection
window.avatarDemo = { player, calibration, ready };
