// emonet-serve's page: photos over POST /v1/predict, the webcam over the /v1/stream
// WebSocket. Nothing here comes from another site.
"use strict";

const COLOURS = {
  angry: "#d62728", disgust: "#8c564b", fear: "#9467bd", happy: "#2ca02c",
  sad: "#1f77b4", surprise: "#ff7f0e", neutral: "#7f7f7f",
};
const $ = (id) => document.getElementById(id);
const MESSAGES = {
  not_an_image: "This file is not an image. Choose a JPEG, PNG, BMP, WebP or TIFF photo.",
  too_large: "This file is too large.",
  too_many_pixels: "This image has too many pixels. Scale it down and try again.",
  unauthorized: "This server needs an API key: type it in the API key box.",
  busy: "The server is busy. Try again in a moment.",
  not_ready: "The models are still loading. Try again in a few seconds.",
};

function headers() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
}

function say(text) { $("status").textContent = text; }

function explain(body, status) {
  const known = body && MESSAGES[body.error];
  const detail = body && body.message ? ` (${body.message})` : "";
  if (known) return known + detail;
  if (body && body.message) return body.message;
  return `The server answered ${status}.`;
}

function bars(face, index, faces) {
  const box = document.createElement("div");
  box.className = "face";
  const title = document.createElement("h3");
  const number = faces && faces.length > 1 ? `${index + 1}. ` : "";
  title.textContent = `${number}${face.label} ${(100 * face.confidence).toFixed(0)}%`;
  title.style.color = COLOURS[face.label] || "inherit";
  box.appendChild(title);
  for (const [label, p] of Object.entries(face.probabilities)) {
    const row = document.createElement("div");
    row.className = "bar";
    const name = document.createElement("span");
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "track";
    track.setAttribute("role", "meter");
    track.setAttribute("aria-label", label);
    track.setAttribute("aria-valuemin", "0");
    track.setAttribute("aria-valuemax", "100");
    track.setAttribute("aria-valuenow", (100 * p).toFixed(0));
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    fill.style.background = COLOURS[label];
    fill.style.display = "block";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.textContent = `${(100 * p).toFixed(1)}%`;
    row.append(name, track, value);
    box.appendChild(row);
  }
  return box;
}

function draw(canvas, width, height, faces) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const line = Math.max(2, Math.round(width / 250));
  ctx.font = `bold ${Math.max(14, Math.round(width / 30))}px system-ui, sans-serif`;
  faces.forEach((face, i) => {
    const [left, top, right, bottom] = face.box;
    const colour = COLOURS[face.label] || "#fff";
    ctx.lineWidth = line;
    ctx.strokeStyle = colour;
    ctx.strokeRect(left, top, right - left, bottom - top);
    const text = `${faces.length > 1 ? i + 1 + ". " : ""}${face.label} ${(100 * face.confidence).toFixed(0)}%`;
    const metrics = ctx.measureText(text);
    const h = parseInt(ctx.font.match(/(\d+)px/)[1], 10) + 6;
    const y = top - h >= 0 ? top - h : bottom;
    ctx.fillStyle = colour;
    ctx.fillRect(left - line / 2, y, metrics.width + 10, h);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, left + 4, y + h - 6);
  });
}

const server = { maxUpload: null };

function megabytes(bytes) { return `${(bytes / 1048576).toFixed(1)} MB`; }

async function sendPhoto(file) {
  if (server.maxUpload && file.size > server.maxUpload) {
    throw new Error(`${MESSAGES.too_large} It has ${megabytes(file.size)}; the limit is ${megabytes(server.maxUpload)}.`);
  }
  const form = new FormData();
  form.append("files", file, file.name);
  const tta = $("tta").value;
  const url = "/v1/predict" + (tta ? `?tta=${encodeURIComponent(tta)}` : "");
  const answer = await fetch(url, { method: "POST", body: form, headers: headers() });
  let body = null;
  try { body = await answer.json(); } catch (e) { body = null; }
  if (!answer.ok) throw new Error(explain(body, answer.status));
  return body.results[0];
}

async function showPhotos(files) {
  showError("");
  const list = Array.from(files);
  if (!list.length) return;
  $("results").replaceChildren();
  const problems = [];
  for (const file of list) {
    say(`Reading ${file.name}…`);
    let result;
    try {
      result = await sendPhoto(file);
    } catch (error) {
      problems.push(`${file.name}: ${error.message}`);
      continue;
    }
    const row = document.createElement("div");
    row.className = "result";
    const figure = document.createElement("div");
    figure.className = "figure";
    const img = document.createElement("img");
    img.alt = `${file.name}: ` + (result.faces.length
      ? result.faces.map((f) => f.label).join(", ") : "no face found");
    img.src = URL.createObjectURL(file);
    const canvas = document.createElement("canvas");
    canvas.setAttribute("aria-hidden", "true");
    figure.append(img, canvas);
    draw(canvas, result.width, result.height, result.faces);
    const side = document.createElement("div");
    side.className = "faces";
    if (!result.faces.length) {
      problems.push(`${file.name}: no face found. Try a photo where a face looks at the camera.`);
      const none = document.createElement("p");
      none.textContent = "No face found.";
      side.appendChild(none);
    }
    result.faces.forEach((face, i) => side.appendChild(bars(face, i, result.faces)));
    row.append(figure, side);
    $("results").appendChild(row);
  }
  say(`Done: ${list.length - problems.length} of ${list.length} photo(s) read.`);
  showError(problems.join(" "));
}

// ---------------------------------------------------------------- webcam

const webcam = { socket: null, stream: null, busy: false, times: [], timer: null };

async function startWebcam() {
  showError("");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("This browser gives no webcam to this page (it needs http://localhost or https).");
    return;
  }
  try {
    webcam.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640 }, audio: false });
  } catch (error) {
    showError(`No webcam: ${error.message}. Allow the camera for this page and try again.`);
    return;
  }
  const video = $("video");
  video.srcObject = webcam.stream;
  await video.play();
  $("live").hidden = false;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const key = $("api-key").value.trim();
  const tta = $("tta").value;
  const query = new URLSearchParams();
  if (key) query.set("api_key", key);
  if (tta) query.set("tta", tta);
  const socket = new WebSocket(`${scheme}://${location.host}/v1/stream?${query}`);
  socket.binaryType = "arraybuffer";
  webcam.socket = socket;
  socket.onmessage = (event) => {
    webcam.busy = false;
    const answer = JSON.parse(event.data);
    if (answer.error) { showError(explain(answer)); return; }
    showError("");
    const now = performance.now();
    webcam.times.push(now);
    webcam.times = webcam.times.filter((t) => now - t < 2000);
    const fps = webcam.times.length > 1
      ? (webcam.times.length - 1) / ((now - webcam.times[0]) / 1000) : 0;
    $("fps").textContent = `${fps.toFixed(1)} frames per second`;
    draw($("overlay"), answer.width, answer.height, answer.faces);
    const side = $("live-labels");
    side.replaceChildren(...answer.faces.map((face, i) => bars(face, i, answer.faces)));
    if (!answer.faces.length) side.textContent = "No face in view.";
  };
  socket.onclose = (event) => {
    if (webcam.stream) {
      showError(event.code === 1008 ? MESSAGES.unauthorized : "The connection to the server closed.");
      stopWebcam();
    }
  };
  socket.onopen = () => { say("Webcam on."); sendFrames(); };
  $("webcam").textContent = "Stop webcam";
  $("webcam").setAttribute("aria-pressed", "true");
}

function sendFrames() {
  const video = $("video");
  const canvas = document.createElement("canvas");
  webcam.timer = setInterval(() => {
    const socket = webcam.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || webcam.busy || !video.videoWidth) return;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      if (blob && socket.readyState === WebSocket.OPEN) {
        webcam.busy = true;
        blob.arrayBuffer().then((buffer) => socket.send(buffer));
      }
    }, "image/jpeg", 0.8);
  }, 30);
}

function stopWebcam() {
  clearInterval(webcam.timer);
  const socket = webcam.socket;
  webcam.socket = null;
  if (socket) socket.close();
  if (webcam.stream) webcam.stream.getTracks().forEach((track) => track.stop());
  webcam.stream = null;
  webcam.busy = false;
  $("webcam").textContent = "Start webcam";
  $("webcam").setAttribute("aria-pressed", "false");
  $("fps").textContent = "";
  say("Webcam off.");
}

// ---------------------------------------------------------------- wiring

window.addEventListener("DOMContentLoaded", () => {
  const drop = $("drop");
  $("files").addEventListener("change", (event) => showPhotos(event.target.files));
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    showPhotos(event.dataTransfer.files);
  });
  $("webcam").addEventListener("click", () => (webcam.stream ? stopWebcam() : startWebcam()));
  fetch("/healthz").then(() => fetch("/v1/info", { headers: headers() }))
    .then((answer) => (answer.ok ? answer.json() : null))
    .then((info) => {
      if (!info) return;
      server.maxUpload = info.limits.max_upload_bytes;
      $("version").textContent = `emonet ${info.emonet_version}, preset ${info.preset || "custom"}`;
    })
    .catch(() => {});
});
