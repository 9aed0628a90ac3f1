/** A parsed question asked of a store: the one place both the CLI and the HTTP API go through. */
import type { FlowStore } from './flow-store.js';
import type { Answer } from './output-format.js';
import type { QueryRequest } from './query-params.js';

export async function ask(store: FlowStore, request: QueryRequest): Promise<Answer> {
  switch (request.question) {
    case 'flows':
      return { question: 'flows', page: await store.flows(request.filter, request.page) };
    case 'timeline':
      return { question: 'timeline', page: await store.timeline(request.timeline, request.page), pod: request.timeline.pod };
    case 'top-talkers':
      return { question: 'top-talkers', talkers: await store.topTalkers(request.filter, request.top) };
    case 'graph':
      return { question: 'graph', edges: await store.serviceGraph(request.filter, request.node) };
    case 'who-talked-to':
      return { question: 'who-talked-to', callers: await store.whoTalkedTo(request.ip, request.filter) };
  }
}
