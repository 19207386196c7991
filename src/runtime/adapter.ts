import { createError } from "../errors.js";

/**
 * What an {@link Adapter} delivers to: the topic registry of one node (one Upgrader or server).
 * Implemented by {@link TopicRegistry}.
 */
export interface AdapterSink {
  /**
   * A message another node published to `topic`, for this node's local subscribers. `data` is
   * valid during the call only (the registry encodes it before returning).
   *
   * @param binary - send as a binary message (true) or a text message (false)
   * @param compress - the publisher's `compress` option, undefined when it gave none
   */
  deliver(topic: string, data: Uint8Array, binary: boolean, compress: boolean | undefined): void;
}

/**
 * Carries publishes between the nodes (processes or machines) that serve one application. Each
 * node has its own adapter instance, bound to that node's topic registry by {@link attach}.
 *
 * The registry delivers a publish to its own local subscribers itself, at publish time, and then
 * hands it to {@link publish}; an adapter therefore never delivers a node's own publish back to
 * that node. It asks for a topic's messages with {@link subscribe} when the topic gets its first
 * local subscriber and gives them up with {@link unsubscribe} when the last one leaves, so an
 * adapter keeps one subscription per topic and node, never one per connection.
 */
export interface Adapter {
  /**
   * Binds the adapter to the registry it delivers to; called once, by the registry's constructor.
   *
   * @throws {@link UsageError} `ERR_WS_INVALID_STATE` when already attached
   */
  attach(sink: AdapterSink): void;
  /**
   * Sends a publish to the other nodes. `data` is valid during the call only: an adapter that
   * sends later must copy it first.
   *
   * @param binary - whether the subscribers get a binary (true) or a text (false) message
   * @param compress - the publisher's `compress` option, passed on to the other nodes
   */
  publish(topic: string, data: string | Uint8Array, binary: boolean, compress?: boolean): void;
  /** This node has its first local subscriber of `topic`: start receiving the topic's messages. */
  subscribe(topic: string): void;
  /** The last local subscriber of `topic` left: stop receiving the topic's messages. */
  unsubscribe(topic: string): void;
  /** Stops carrying messages and releases what the adapter holds (connections to a broker). */
  close(): Promise<void>;
}

/**
 * Joins several {@link MemoryAdapter}s in one process, as a broker would join nodes: a publish on
 * one reaches the subscribers of the others, synchronously. Useful for several servers in one
 * process and for tests of code written against the {@link Adapter} contract.
 */
export class MemoryHub {
  private readonly members = new Set<MemoryAdapter>();

  /** @internal */
  join(adapter: MemoryAdapter): void {
    this.members.add(adapter);
  }

  /** @internal */
  leave(adapter: MemoryAdapter): void {
    this.members.delete(adapter);
  }

  /** @internal Delivers to every member but `from` that is subscribed to `topic`. */
  send(
    from: MemoryAdapter,
    topic: string,
    data: Uint8Array,
    binary: boolean,
    compress: boolean | undefined,
  ): void {
    for (const member of this.members) {
      if (member !== from) member.receive(topic, data, binary, compress);
    }
  }

  /** The number of adapters joined. */
  get size(): number {
    return this.members.size;
  }
}

/** Options of a {@link MemoryAdapter}. */
export interface MemoryAdapterOptions {
  /** Other adapters to exchange publishes with; without one the adapter is one node alone. */
  readonly hub?: MemoryHub;
}

/**
 * The default adapter: one process, nothing to run. Alone it carries nothing (every subscriber is
 * local, and the registry delivers to those itself); given a {@link MemoryHub} it exchanges
 * publishes with the other adapters of that hub, synchronously.
 */
export class MemoryAdapter implements Adapter {
  private sink: AdapterSink | undefined;
  private readonly hub: MemoryHub | undefined;
  private readonly topics = new Set<string>();
  private closed = false;

  /** @param options - see {@link MemoryAdapterOptions} */
  constructor(options: MemoryAdapterOptions = {}) {
    this.hub = options.hub;
  }

  /** {@inheritDoc Adapter.attach} */
  attach(sink: AdapterSink): void {
    if (this.sink !== undefined) {
      throw createError("ERR_WS_INVALID_STATE", "the adapter is already attached to a registry");
    }
    this.sink = sink;
    if (!this.closed) this.hub?.join(this);
  }

  /** {@inheritDoc Adapter.publish} */
  publish(topic: string, data: string | Uint8Array, binary: boolean, compress?: boolean): void {
    const hub = this.hub;
    if (hub === undefined || this.closed || hub.size < 2) return;
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    hub.send(this, topic, bytes, binary, compress);
  }

  /** {@inheritDoc Adapter.subscribe} */
  subscribe(topic: string): void {
    this.topics.add(topic);
  }

  /** {@inheritDoc Adapter.unsubscribe} */
  unsubscribe(topic: string): void {
    this.topics.delete(topic);
  }

  /** The topics this node receives from the hub. */
  get subscriptions(): ReadonlySet<string> {
    return this.topics;
  }

  /** {@inheritDoc Adapter.close} */
  close(): Promise<void> {
    this.closed = true;
    this.hub?.leave(this);
    this.topics.clear();
    return Promise.resolve();
  }

  /** @internal A publish of another member of the hub. */
  receive(topic: string, data: Uint8Array, binary: boolean, compress: boolean | undefined): void {
    if (this.closed || !this.topics.has(topic)) return;
    this.sink?.deliver(topic, data, binary, compress);
  }
}
