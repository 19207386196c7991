// The tidews demo chat: the browser's own WebSocket (with the permessage-deflate it offers) to
// /chat, JSON messages both ways. Rooms are topics on the server; this page keeps, per joined room,
// the messages it has seen and the members it knows of.
(() => {
  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const rooms = new Map(); // room -> { messages: [], members: Map<id, user>, unread }
  let suggested = [];
  let current = null;
  let me = null;
  let named = false;
  let node = null;
  let ws = null;
  let wanted = []; // rooms to rejoin after a reconnect
  let retry = 0;

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/chat`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      retry = 0;
      const deflate = ws.extensions.includes("permessage-deflate");
      setStatus("open", deflate ? "connected · permessage-deflate" : "connected");
      const name = $("name").value.trim() || localStorage.getItem("tidews-demo-name");
      if (named && name) send({ type: "hello", name });
    };
    ws.onmessage = (event) => receive(JSON.parse(event.data));
    ws.onclose = (event) => {
      const why = event.code === 1001 ? "server went away" : `closed (${event.code})`;
      wanted = me === null ? wanted : [...rooms.keys()];
      me = null;
      retry = Math.min(retry + 1, 5);
      setStatus("closed", `${why}, reconnecting…`);
      setComposer(false);
      setTimeout(connect, 500 * retry);
    };
  }

  function send(message) {
    if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function receive(m) {
    switch (m.type) {
      case "welcome":
        node = m.node;
        suggested = m.rooms;
        renderRooms();
        break;
      case "ready":
        me = m.user;
        $("whoami").textContent = `${me.name} · node ${node}`;
        $("login").hidden = true;
        $("chat").hidden = false;
        for (const room of wanted.length > 0 ? wanted : ["lobby"]) send({ type: "join", room });
        wanted = [];
        break;
      case "joined": {
        const room = ensureRoom(m.room);
        room.members = new Map(m.members.map((u) => [u.id, u]));
        room.messages.push({ kind: "system", text: `you joined #${m.room}`, at: Date.now() });
        select(m.room);
        break;
      }
      case "left":
        rooms.delete(m.room);
        if (current === m.room) select(rooms.keys().next().value ?? null);
        else renderRooms();
        break;
      case "presence":
        presence(m);
        break;
      case "message":
        addLine(m.room, {
          kind: "message",
          from: m.from,
          text: m.text,
          at: m.at,
        });
        break;
      case "error":
        addLine(current, { kind: "error", text: m.message, at: Date.now() });
        break;
    }
  }

  function presence(m) {
    const room = rooms.get(m.room);
    if (room === undefined || me === null) return;
    const known = room.members.has(m.user.id);
    if (m.event === "leave") {
      room.members.delete(m.user.id);
      addLine(m.room, { kind: "system", text: `${m.user.name} left`, at: Date.now() });
    } else {
      room.members.set(m.user.id, m.user);
      if (m.event === "join" && m.user.id !== me.id) {
        addLine(m.room, { kind: "system", text: `${m.user.name} joined`, at: Date.now() });
        // Members on other demo processes announce themselves to the newcomer.
        if (m.user.node !== me.node) send({ type: "here", room: m.room });
      }
    }
    if (known !== room.members.has(m.user.id) && m.room === current) renderMembers();
  }

  function ensureRoom(name) {
    let room = rooms.get(name);
    if (room === undefined) {
      room = { messages: [], members: new Map(), unread: 0 };
      rooms.set(name, room);
    }
    return room;
  }

  function addLine(name, line) {
    const room = name === null ? undefined : rooms.get(name);
    if (room === undefined) return;
    room.messages.push(line);
    if (room.messages.length > 500) room.messages.shift();
    if (name === current) appendLine(line);
    else if (line.kind === "message") {
      room.unread++;
      renderRooms();
    }
  }

  function select(name) {
    current = name;
    const room = name === null ? undefined : rooms.get(name);
    if (room !== undefined) room.unread = 0;
    $("room-title").textContent = name === null ? "no room" : `#${name}`;
    $("leave").hidden = name === null;
    $("messages").replaceChildren();
    for (const line of room?.messages ?? []) appendLine(line);
    setComposer(room !== undefined);
    renderRooms();
    renderMembers();
    if (room !== undefined) $("text").focus();
  }

  function setComposer(enabled) {
    $("text").disabled = !enabled;
    $("composer").querySelector("button").disabled = !enabled;
  }

  function appendLine(line) {
    const list = $("messages");
    const li = document.createElement("li");
    li.className = `line ${line.kind}`;
    const time = document.createElement("time");
    time.textContent = new Date(line.at).toLocaleTimeString([], {
      hour: "2-digit",
      minute: "2-digit",
    });
    if (line.kind === "message") {
      li.classList.add("message");
      const mine = me !== null && line.from.id === me.id;
      if (mine) li.classList.add("mine");
      const head = document.createElement("div");
      head.className = "meta";
      const from = document.createElement("span");
      from.className = "from";
      from.textContent = line.from.name;
      if (!mine) from.style.color = colour(line.from.id);
      head.append(from, time);
      const text = document.createElement("div");
      text.className = "text";
      text.textContent = line.text;
      li.append(head, text);
    } else {
      li.textContent = line.text;
      li.append(time);
    }
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(li);
    if (atBottom || li.classList.contains("mine")) list.scrollTop = list.scrollHeight;
  }

  function renderRooms() {
    const list = $("room-list");
    list.replaceChildren();
    const names = [...rooms.keys()];
    for (const s of suggested) if (!rooms.has(s)) names.push(s);
    for (const name of names) {
      const joined = rooms.has(name);
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `room${name === current ? " current" : ""}${joined ? "" : " suggested"}`;
      button.dataset.room = name;
      button.textContent = `#${name}`;
      const unread = rooms.get(name)?.unread ?? 0;
      if (unread > 0) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = String(unread);
        button.append(badge);
      }
      if (!joined) {
        const hint = document.createElement("span");
        hint.className = "join-hint";
        hint.textContent = "join";
        button.append(hint);
      }
      button.onclick = () => (joined ? select(name) : send({ type: "join", room: name }));
      li.append(button);
      list.append(li);
    }
  }

  function renderMembers() {
    const list = $("member-list");
    list.replaceChildren();
    const room = current === null ? undefined : rooms.get(current);
    const members = [...(room?.members.values() ?? [])].sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    $("member-count").textContent = room === undefined ? "" : String(members.length);
    for (const user of members) {
      const li = document.createElement("li");
      li.className = "member";
      li.dataset.id = user.id;
      const dot = document.createElement("span");
      dot.className = "avatar";
      dot.style.background = colour(user.id);
      dot.textContent = user.name.slice(0, 1).toUpperCase();
      const name = document.createElement("span");
      name.className = "member-name";
      name.textContent = me !== null && user.id === me.id ? `${user.name} (you)` : user.name;
      const where = document.createElement("span");
      where.className = "node";
      where.textContent = user.node;
      li.append(dot, name, where);
      list.append(li);
    }
  }

  function colour(id) {
    let h = 0;
    for (const c of id) h = (h * 31 + c.charCodeAt(0)) % 360;
    return `hsl(${h} 55% 42%)`;
  }

  $("name").value = localStorage.getItem("tidews-demo-name") ?? "";
  $("name-form").onsubmit = (event) => {
    event.preventDefault();
    const name = $("name").value.trim();
    if (name === "") return;
    localStorage.setItem("tidews-demo-name", name);
    named = true;
    send({ type: "hello", name });
  };
  $("room-form").onsubmit = (event) => {
    event.preventDefault();
    const name = $("room-input").value.trim().replace(/^#/, "").toLowerCase();
    if (name === "") return;
    if (rooms.has(name)) select(name);
    else send({ type: "join", room: name });
    $("room-input").value = "";
  };
  $("composer").onsubmit = (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (text.trim() === "" || current === null) return;
    send({ type: "say", room: current, text });
    $("text").value = "";
  };
  $("leave").onclick = () => {
    if (current !== null) send({ type: "leave", room: current });
  };
  $("leave").hidden = true;
  connect();
})();
