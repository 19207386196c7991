// The tidews demo dashboard: samples arrive over a WebSocket (on /dashboard) a few times a second
// and are drawn as small canvas charts. No libraries.
(() => {
  const $ = (id) => document.getElementById(id);
  const KEEP = 120; // samples on a chart
  const IN = "#0f766e";
  const OUT = "#7c3aed";
  const samples = [];
  let retry = 0;

  function connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/dashboard`;
    const ws = new WebSocket(url);
    ws.onopen = () => {
      retry = 0;
      const deflate = ws.extensions.includes("permessage-deflate");
      setStatus("open", deflate ? "live · permessage-deflate" : "live");
    };
    ws.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.type === "hello") {
        $("node").textContent = `node ${m.node} · a sample every ${m.interval} ms`;
        text("adapter", m.adapter);
        samples.length = 0;
        samples.push(...m.history.slice(-KEEP));
        if (samples.length > 0) render();
      } else if (m.type === "sample") {
        samples.push(m.sample);
        if (samples.length > KEEP) samples.shift();
        render();
      }
    };
    ws.onclose = (event) => {
      retry = Math.min(retry + 1, 5);
      setStatus(
        "closed",
        `${event.code === 1001 ? "server went away" : `closed (${event.code})`}, reconnecting…`,
      );
      setTimeout(connect, 500 * retry);
    };
  }

  function setStatus(state, text) {
    $("status").dataset.state = state;
    $("status").textContent = text;
  }

  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
  }

  function count(n) {
    if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
    if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
    return n >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
  }

  /** Sizes as short as a bar label must be: 512, 4K, 1M. */
  function short(n) {
    if (n >= 1048576) return `${+(n / 1048576).toFixed(1)}M`;
    if (n >= 1024) return `${+(n / 1024).toFixed(n >= 10240 ? 0 : 1)}K`;
    return String(n);
  }

  function percent(r) {
    return `${(r * 100).toFixed(r >= 0.995 || r === 0 ? 0 : 1)}%`;
  }

  function text(id, value) {
    $(id).textContent = value;
  }

  function render() {
    const s = samples[samples.length - 1];
    const c = s.connections;
    text("connections-total", String(c.total));
    text("connections-chat", String(c.chat));
    text("connections-dashboard", String(c.dashboard));
    text("connections-echo", String(c.echo));
    text("messages-in", count(s.perSecond.messagesIn));
    text("messages-out", count(s.perSecond.messagesOut));
    text("bytes-in", `${bytes(s.perSecond.wireIn)}/s`);
    text("bytes-out", `${bytes(s.perSecond.wireOut)}/s`);
    text("fanout", s.fanout.toFixed(s.fanout >= 10 ? 0 : 1));
    text("publishes", count(s.perSecond.publishes));
    text("deliveries", count(s.perSecond.deliveries));
    text("pool-hit-rate", percent(s.pool.hitRate));
    text("pool-idle", bytes(s.pool.idleBytes));
    text("pool-gets", count(s.pool.gets));
    text("heap", bytes(s.memory.heapUsed));
    text("rss", bytes(s.memory.rss));
    text("deflate", s.deflateRatio === 1 ? "nothing counted" : percent(s.deflateRatio));
    text("wire-ratio", percent(s.wireRatio));
    text("rooms", String(s.rooms));
    text("subscriptions", String(s.subscriptions));
    text("received", count(s.perSecond.received));

    const series = (f) => samples.map(f);
    lines(
      $("chart-connections"),
      [{ values: series((x) => x.connections.total), colour: IN }],
      count,
    );
    lines(
      $("chart-messages"),
      [
        { values: series((x) => x.perSecond.messagesIn), colour: IN },
        { values: series((x) => x.perSecond.messagesOut), colour: OUT },
      ],
      count,
    );
    lines(
      $("chart-bytes"),
      [
        { values: series((x) => x.perSecond.wireIn), colour: IN },
        { values: series((x) => x.perSecond.wireOut), colour: OUT },
      ],
      (n) => `${bytes(n)}/s`,
    );
    lines(
      $("chart-fanout"),
      [
        { values: series((x) => x.perSecond.publishes), colour: IN },
        { values: series((x) => x.perSecond.deliveries), colour: OUT },
      ],
      count,
    );
    lines($("chart-pool"), [{ values: series((x) => x.pool.hitRate), colour: IN }], percent, 1);
    lines(
      $("chart-memory"),
      [
        { values: series((x) => x.memory.heapUsed), colour: IN },
        { values: series((x) => x.memory.rss), colour: OUT },
      ],
      bytes,
    );
    lines($("chart-deflate"), [{ values: series((x) => x.wireRatio), colour: IN }], percent);
    lines($("chart-topics"), [{ values: series((x) => x.subscriptions), colour: IN }], count);
    shards($("chart-shards"), s.pool.shards);
  }

  /** A canvas sized to its CSS box, in device pixels; returns the context and the CSS size. */
  function prepare(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "11px system-ui, sans-serif";
    return { g, w, h };
  }

  function lines(canvas, list, format, fixedMax) {
    const { g, w, h } = prepare(canvas);
    const top = 14;
    const bottom = h - 2;
    let max = fixedMax ?? 0;
    if (fixedMax === undefined)
      for (const s of list) for (const v of s.values) max = Math.max(max, v);
    if (max <= 0) max = 1;
    const y = (v) => bottom - (Math.min(v, max) / max) * (bottom - top);
    const step = w / (KEEP - 1);
    g.strokeStyle = "#e2e8f0";
    g.lineWidth = 1;
    for (const f of [0, 0.5, 1]) {
      const yy = Math.round(y(max * f)) + 0.5;
      g.beginPath();
      g.moveTo(0, yy);
      g.lineTo(w, yy);
      g.stroke();
    }
    g.fillStyle = "#64748b";
    g.textAlign = "right";
    g.fillText(format(max), w - 2, 10);
    for (const s of list) {
      const n = s.values.length;
      if (n === 0) continue;
      const x0 = w - (n - 1) * step;
      g.beginPath();
      s.values.forEach((v, i) => {
        const x = x0 + i * step;
        if (i === 0) g.moveTo(x, y(v));
        else g.lineTo(x, y(v));
      });
      g.strokeStyle = s.colour;
      g.lineWidth = 1.8;
      g.lineJoin = "round";
      g.stroke();
      g.lineTo(w, bottom);
      g.lineTo(x0, bottom);
      g.closePath();
      g.globalAlpha = list.length === 1 ? 0.14 : 0.08;
      g.fillStyle = s.colour;
      g.fill();
      g.globalAlpha = 1;
    }
  }

  function shards(canvas, list) {
    const { g, w, h } = prepare(canvas);
    const n = Math.max(list.length, 1);
    const gap = 6;
    const barW = (w - gap * (n - 1)) / n;
    const top = 16;
    const bottom = h - 30;
    const max = Math.max(1, ...list.map((s) => s.idleBytes));
    g.textAlign = "center";
    list.forEach((s, i) => {
      const x = i * (barW + gap);
      const bh = (s.idleBytes / max) * (bottom - top);
      g.fillStyle = "#f1f5f9";
      g.fillRect(x, top, barW, bottom - top);
      g.fillStyle = s.idleBytes > 0 ? IN : "#cbd5e1";
      g.fillRect(x, bottom - Math.max(bh, 1), barW, Math.max(bh, 1));
      g.fillStyle = "#64748b";
      g.fillText(short(s.size), x + barW / 2, h - 17);
      g.fillText(`${Math.round(s.hitRate * 100)}%`, x + barW / 2, h - 3);
      g.fillStyle = "#17212b";
      g.fillText(s.idleBytes > 0 ? short(s.idleBytes) : "0", x + barW / 2, 11);
    });
  }

  window.addEventListener("resize", () => samples.length > 0 && render());
  connect();
})();
