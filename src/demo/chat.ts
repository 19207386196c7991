import type { Connection } from "../runtime/connection.js";
import type { Message } from "../runtime/message.js";

/** A chat user as every page sees it. `node` names the demo process the user is connected to. */
export interface ChatUser {
  readonly id: string;
  readonly name: string;
  readonly node: string;
}

/** The per-connection state of the demo (the server's session type). */
export interface DemoSession {
  /** Which endpoint the connection came in on. */
  readonly kind: "chat" | "dashboard" | "echo";
  /** Set by the chat's `hello`. */
  user?: ChatUser;
  /** The rooms this chat connection joined. */
  readonly rooms: Set<string>;
}

/** What the chat needs from the server: its topics. */
export interface ChatServer {
  /** Publishes to every subscriber of `topic`, on this process and on the others. */
  publish(topic: string, data: string): number;
}

/** What a page may send. */
type ClientMessage =
  | { readonly type: "hello"; readonly name: unknown }
  | { readonly type: "join"; readonly room: unknown }
  | { readonly type: "leave"; readonly room: unknown }
  | { readonly type: "say"; readonly room: unknown; readonly text: unknown }
  | { readonly type: "here"; readonly room: unknown };

/** Rooms every page offers before anyone created one. */
export const SUGGESTED_ROOMS: readonly string[] = ["lobby", "random", "tidews"];
/** Longest chat message, in characters. */
export const MAX_TEXT = 2000;
const ROOM_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
// Control characters make a name unreadable in the member list.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point of this pattern.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The topic of a room. */
export function roomTopic(room: string): string {
  return `chat/${room}`;
}

/** A room name as typed, normalised; undefined when it is not a valid room name. */
export function roomName(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const room = value.trim().toLowerCase().replace(/^#/, "");
  return ROOM_NAME.test(room) ? room : undefined;
}

/** A display name as typed, trimmed; undefined when empty, too long or with control characters. */
export function userName(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const name = value.trim();
  return name.length >= 1 && name.length <= 24 && !CONTROL.test(name) ? name : undefined;
}

/**
 * The chat: rooms are topics. A message to a room is one publish to its topic, so every tab in
 * the room gets it at once, on this process and (with the Redis adapter) on every other one.
 *
 * Who is in a room travels the same way: a join or a leave is published as a `presence` event.
 * A newcomer learns this process's members from the `joined` answer; members on other processes
 * answer a join from another process with `here`, which is published too, so the newcomer's list
 * fills in without any shared store.
 */
export class Chat {
  /** Members of each room on this process. */
  private readonly members = new Map<string, Map<string, ChatUser>>();
  private nextId = 1;

  /**
   * @param node - this process's name, part of every user id
   * @param server - where rooms are published
   * @param subscribed - resolves once the other processes' publishes to the topics subscribed so
   *   far reach this one (the Redis adapter's `ready`); a join is answered after it, so a page
   *   that was told it joined does not miss a message from another process
   */
  constructor(
    readonly node: string,
    private readonly server: ChatServer,
    private readonly subscribed: () => Promise<void> = () => Promise.resolve(),
  ) {}

  /** The members of `room` on this process. */
  localMembers(room: string): ChatUser[] {
    return [...(this.members.get(room)?.values() ?? [])];
  }

  /** A chat connection opened: tell it who it talks to. */
  open(conn: Connection<DemoSession>): void {
    send(conn, { type: "welcome", node: this.node, rooms: this.roomList() });
  }

  /**
   * A chat message arrived from a page. A join returns a promise: the connection's next messages
   * wait for it (the runtime runs one handler at a time per connection).
   */
  receive(conn: Connection<DemoSession>, message: Message): void | Promise<void> {
    let msg: ClientMessage;
    try {
      msg = message.json<ClientMessage>();
    } catch {
      send(conn, { type: "error", message: "expected a JSON message" });
      return;
    }
    const user = conn.session.user;
    if (msg === null || typeof msg !== "object") {
      send(conn, { type: "error", message: "expected a JSON object" });
    } else if (msg.type === "hello") {
      this.hello(conn, msg.name);
    } else if (user === undefined) {
      send(conn, { type: "error", message: "say hello with a name first" });
    } else if (msg.type === "join") {
      const room = roomName(msg.room);
      if (room === undefined) send(conn, { type: "error", message: "invalid room name" });
      else return this.join(conn, user, room);
    } else if (msg.type === "leave") {
      const room = roomName(msg.room);
      if (room !== undefined) this.leave(conn, user, room);
    } else if (msg.type === "say") {
      this.say(conn, user, roomName(msg.room), msg.text);
    } else if (msg.type === "here") {
      const room = roomName(msg.room);
      if (room !== undefined && conn.session.rooms.has(room)) {
        this.publish(room, { type: "presence", event: "here", room, user });
      }
    } else {
      send(conn, { type: "error", message: "unknown message type" });
    }
  }

  /** A chat connection closed: leave every room. */
  close(conn: Connection<DemoSession>): void {
    const user = conn.session.user;
    if (user === undefined) return;
    for (const room of [...conn.session.rooms]) this.leave(conn, user, room);
  }

  private hello(conn: Connection<DemoSession>, value: unknown): void {
    const name = userName(value);
    if (name === undefined) {
      send(conn, { type: "error", message: "a name is 1 to 24 characters" });
      return;
    }
    if (conn.session.user !== undefined) {
      send(conn, { type: "error", message: "already named" });
      return;
    }
    const user: ChatUser = { id: `${this.node}-${this.nextId++}`, name, node: this.node };
    conn.session.user = user;
    send(conn, { type: "ready", user });
  }

  private async join(conn: Connection<DemoSession>, user: ChatUser, room: string): Promise<void> {
    if (conn.session.rooms.has(room)) return;
    if (conn.session.rooms.size >= 16) {
      send(conn, { type: "error", message: "16 rooms at most" });
      return;
    }
    conn.session.rooms.add(room);
    conn.subscribe(roomTopic(room));
    let members = this.members.get(room);
    if (members === undefined) {
      members = new Map();
      this.members.set(room, members);
    }
    members.set(user.id, user);
    await this.subscribed();
    if (!conn.session.rooms.has(room)) return; // closed while waiting
    send(conn, { type: "joined", room, members: [...members.values()] });
    this.publish(room, { type: "presence", event: "join", room, user });
  }

  private leave(conn: Connection<DemoSession>, user: ChatUser, room: string): void {
    if (!conn.session.rooms.delete(room)) return;
    conn.unsubscribe(roomTopic(room));
    const members = this.members.get(room);
    members?.delete(user.id);
    if (members?.size === 0) this.members.delete(room);
    send(conn, { type: "left", room });
    this.publish(room, { type: "presence", event: "leave", room, user });
  }

  private say(
    conn: Connection<DemoSession>,
    user: ChatUser,
    room: string | undefined,
    text: unknown,
  ): void {
    if (room === undefined || !conn.session.rooms.has(room)) {
      send(conn, { type: "error", message: "join the room first" });
      return;
    }
    if (typeof text !== "string" || text.trim() === "" || text.length > MAX_TEXT) {
      send(conn, { type: "error", message: `a message is 1 to ${MAX_TEXT} characters` });
      return;
    }
    this.publish(room, { type: "message", room, from: user, text, at: Date.now() });
  }

  private publish(room: string, event: object): void {
    this.server.publish(roomTopic(room), JSON.stringify(event));
  }

  private roomList(): string[] {
    const rooms = new Set(SUGGESTED_ROOMS);
    for (const room of this.members.keys()) rooms.add(room);
    return [...rooms];
  }
}

function send(conn: Connection<DemoSession>, event: object): void {
  conn.send(JSON.stringify(event));
}
