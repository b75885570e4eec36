// knude browser client: join a meeting room over WebRTC. Signalling goes to knude over a
// WebSocket; knude talks to the media server. Plain ES module, no framework, nothing fetched
// from elsewhere at run time.

const $ = (id) => document.getElementById(id);
const alias = decodeURIComponent(location.pathname.replace(/^\/join\//, '').replace(/\/$/, ''));
const state = { previewReady: Promise.resolve(), ws: null, pub: null, sub: null, local: null, feeds: new Map(), streams: new Map(), muted: false, cameraOff: false, joined: false };

const MESSAGES = {
  'wrong-pin': 'The PIN is not right. Check it and try again.',
  'pin-required': 'This meeting needs a PIN.',
  full: 'The meeting room is full.',
  'not-yet-valid': 'This meeting has not started yet.',
  expired: 'This meeting has ended.',
  locked: 'The meeting is locked by its host.',
  'not-found': 'There is no meeting at this address.',
  'media-unavailable': 'The meeting service is restarting. Try again in a moment.',
  capacity: 'The service is at capacity. Try again in a moment.',
};

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

async function loadRoom() {
  const res = await fetch(`/api/join-info?alias=${encodeURIComponent(alias)}`);
  const info = await res.json();
  if (!res.ok) {
    status(MESSAGES[info.reason] ?? info.detail ?? 'This meeting cannot be joined.', true);
    $('join').disabled = true;
    return;
  }
  $('room-name').textContent = info.name;
  document.title = `${info.name} – knude`;
  if (info.pinRequired) $('pin-label').hidden = false;
  if (info.branding?.logoUrl) {
    $('logo').src = info.branding.logoUrl;
    $('logo').alt = `${info.org} logo`;
    $('logo').hidden = false;
  }
  if (info.branding?.color) document.documentElement.style.setProperty('--brand', info.branding.color);
  if (info.problem) status(MESSAGES[info.problem] ?? info.problem, true);
}

async function preview() {
  try {
    state.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    // Mute or camera-off pressed before the devices opened still holds.
    for (const t of state.local.getAudioTracks()) t.enabled = !state.muted;
    for (const t of state.local.getVideoTracks()) t.enabled = !state.cameraOff;
    $('preview').srcObject = state.local;
  } catch (err) {
    status(`Camera or microphone access was denied (${err.name}). Allow it in the browser to join with video.`, true);
  }
}

function send(msg) {
  state.ws?.send(JSON.stringify(msg));
}

function tile(feedId, display) {
  let t = state.feeds.get(feedId);
  if (t) return t;
  const el = document.createElement('div');
  el.className = 'tile';
  el.dataset.feed = String(feedId);
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  const label = document.createElement('span');
  label.textContent = display || 'Participant';
  el.append(video, label);
  $('tiles').append(el);
  const stream = new MediaStream();
  video.srcObject = stream;
  t = { el, video, stream };
  state.feeds.set(feedId, t);
  return t;
}

async function localTile() {
  await state.previewReady;
  const t = tile('local', 'You');
  t.video.muted = true;
  for (const track of state.local?.getTracks() ?? []) t.stream.addTrack(track);
}

function newPeer(target) {
  const pc = new RTCPeerConnection();
  pc.onicecandidate = (e) => send({ type: 'candidate', target, candidate: e.candidate ? e.candidate.toJSON() : null });
  return pc;
}

async function publish() {
  await state.previewReady;
  // Without a camera or microphone (denied) the person still sees and hears the others.
  if (!state.local || state.local.getTracks().length === 0) return;
  state.pub = newPeer('publisher');
  for (const track of state.local?.getTracks() ?? []) state.pub.addTrack(track, state.local);
  const offer = await state.pub.createOffer();
  await state.pub.setLocalDescription(offer);
  send({ type: 'publish', sdp: offer.sdp });
}

async function onSubscriberOffer(msg) {
  // One multistream subscription carries every other participant; mids map to feeds.
  for (const s of msg.streams) state.streams.set(s.mid, s);
  if (!state.sub) {
    state.sub = newPeer('subscriber');
    state.sub.ontrack = (e) => {
      const info = state.streams.get(e.transceiver.mid);
      if (!info) return;
      const t = tile(info.feedId, info.display);
      t.stream.addTrack(e.track);
      e.track.onended = () => t.stream.removeTrack(e.track);
    };
  }
  await state.sub.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
  const answer = await state.sub.createAnswer();
  await state.sub.setLocalDescription(answer);
  send({ type: 'subscriber-answer', sdp: answer.sdp });
  // Feeds no longer offered are gone: drop their tiles.
  const live = new Set(msg.streams.map((s) => s.feedId));
  for (const [feedId, t] of state.feeds) {
    if (feedId !== 'local' && !live.has(feedId)) {
      t.el.remove();
      state.feeds.delete(feedId);
    }
  }
  $('count').textContent = String(live.size + 1);
}

function onMessage(msg) {
  switch (msg.type) {
    case 'joined':
      state.joined = true;
      $('setup').hidden = true;
      $('meeting').hidden = false;
      void localTile();
      status(msg.lobby ? 'Waiting for the host to join…' : `Joined as ${msg.role}.`);
      if (!msg.lobby) void publish();
      return;
    case 'lobby-released':
      status('The host has joined.');
      void publish();
      return;
    case 'publish-answer':
      void state.pub.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      return;
    case 'subscriber-offer':
      void onSubscriberOffer(msg);
      return;
    case 'talking':
      state.feeds.get(msg.feedId)?.el.classList.toggle('speaking', !!msg.talking);
      return;
    case 'srtp':
      $('srtp').textContent = `DTLS-SRTP, ${msg.profile}`;
      return;
    case 'media-restarted':
      status('The meeting service restarted. Rejoin to continue.', true);
      leave(false);
      return;
    case 'error':
      status(MESSAGES[msg.reason] ?? msg.message ?? 'Something went wrong.', true);
      if (!state.joined) state.ws?.close();
      return;
  }
}

function join(ev) {
  ev.preventDefault();
  const displayName = $('display-name').value.trim();
  if (!displayName) return status('Enter your name to join.', true);
  status('Connecting…');
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/rooms`);
  state.ws = ws;
  ws.onopen = () => send({ type: 'join', alias, displayName, pin: $('pin').value || undefined });
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = () => {
    if (state.joined) status('Disconnected from the meeting.', true);
  };
}

function leave(tell = true) {
  if (tell) send({ type: 'leave' });
  state.pub?.close();
  state.sub?.close();
  state.pub = state.sub = null;
  state.ws?.close();
  state.joined = false;
  for (const t of state.feeds.values()) t.el.remove();
  state.feeds.clear();
  $('meeting').hidden = true;
  $('setup').hidden = false;
  if (tell) status('You left the meeting.');
}

$('join-form').addEventListener('submit', join);
$('leave').addEventListener('click', () => leave());
$('mute').addEventListener('click', () => {
  state.muted = !state.muted;
  for (const t of state.local?.getAudioTracks() ?? []) t.enabled = !state.muted;
  $('mute').setAttribute('aria-pressed', String(state.muted));
  $('mute').textContent = state.muted ? 'Unmute' : 'Mute';
  // Self-mute stays in the browser: the disabled track sends silence, so the media server
  // keeps measuring levels and sees this person stop and start talking (a server-side mute
  // would freeze its talking state and the active speaker would stick).
});
$('camera').addEventListener('click', () => {
  state.cameraOff = !state.cameraOff;
  for (const t of state.local?.getVideoTracks() ?? []) t.enabled = !state.cameraOff;
  $('camera').setAttribute('aria-pressed', String(state.cameraOff));
  $('camera').textContent = state.cameraOff ? 'Camera on' : 'Camera off';
  send({ type: 'mute', kind: 'video', muted: state.cameraOff });
});

// For automated checks and the details panel: what this browser receives and how it is encrypted.
window.knudeStats = async () => {
  const out = { framesDecoded: 0, totalAudioEnergy: 0, srtpCipher: null, dtlsCipher: null, remoteFeeds: state.feeds.size - (state.feeds.has('local') ? 1 : 0) };
  for (const pc of [state.sub, state.pub]) {
    if (!pc) continue;
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (pc === state.sub && s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded += s.framesDecoded ?? 0;
      if (pc === state.sub && s.type === 'inbound-rtp' && s.kind === 'audio') out.totalAudioEnergy += s.totalAudioEnergy ?? 0;
      if (s.type === 'transport' && s.srtpCipher) {
        out.srtpCipher = s.srtpCipher;
        out.dtlsCipher = s.dtlsCipher ?? null;
      }
    });
  }
  if (out.srtpCipher) $('srtp').textContent = `DTLS-SRTP, ${out.srtpCipher}${out.dtlsCipher ? ` (DTLS ${out.dtlsCipher})` : ''}`;
  return out;
};
setInterval(() => void window.knudeStats(), 3000);

void loadRoom();
// Joining waits for this: an offer made before the camera is open would carry no media.
state.previewReady = preview();
