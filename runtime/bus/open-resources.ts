/** What a bus has handed out and not yet seen closed, so closing the bus closes them all. */
export class OpenResources {
  private readonly open = new Set<{ close(): Promise<void> }>();

  /** Returns `resource`, whose `close` now also forgets it. */
  track<T extends { close(): Promise<void> }>(resource: T): T {
    this.open.add(resource);
    const close = resource.close.bind(resource);
    resource.close = async () => {
      this.open.delete(resource);
      await close();
    };
    return resource;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open].map((resource) => resource.close()));
  }
}
