/**
 * A TCP forwarder in front of a service that can go down and come back on the same port: while
 * down, connections are refused and open ones are cut, exactly what clients see when the
 * service's process is stopped; up again, it forwards as before.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpOutage {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    readonly port: number,
  ) {}

  /** Forwards a free loopback port to `target` (`http://host:port`). */
  static async start(target: string): Promise<TcpOutage> {
    const url = new URL(target);
    const probe = createServer();
    await new Promise<void>((resolveListen) => probe.listen(0, '127.0.0.1', resolveListen));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolveClose) => probe.close(() => resolveClose()));
    const outage = new TcpOutage(url.hostname, Number(url.port), port);
    await outage.up();
    return outage;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolveListen) => server.listen(this.port, '127.0.0.1', resolveListen));
    this.server = server;
  }

  /** Refuses new connections and cuts the open ones. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  }
}
