// Compile-time test (checked by `bun run typecheck`, never run): the SDK's `api` is typed by the
// server's own routes, so a wrong path, field or type is a compile error. Each @ts-expect-error
// line must fail to compile; if one ever compiles, tsc reports the directive as unused.
import { createChatClient, type Message, type SocketEvents } from "../../client";

export async function typed() {
  const { api } = createChatClient({ baseUrl: "http://localhost:8000" });
  const conversation = api.api.v1.conversations({ conversation_id: "00000000-0000-7000-8000-000000000000" });

  const sent = await conversation.messages.post({ content: "hi", client_msg_id: "c1" });
  if (sent.data) {
    const seq: number = sent.data.seq;
    const content: string = sent.data.content;
    void seq, content;
  }
  const page = await conversation.messages.get({ query: { after: 10, limit: 50 } });
  const first: Message | undefined = page.data?.[0];
  void first;

  // @ts-expect-error a misspelt field of the body
  await conversation.messages.post({ contnt: "hi" });
  // @ts-expect-error a field of the wrong type
  await conversation.messages.post({ content: 42 });
  // @ts-expect-error a path that does not exist
  await api.api.v1.conversationz.get();
  // @ts-expect-error a query parameter that does not exist
  await conversation.messages.get({ query: { since: 3 } });
  // @ts-expect-error a response field that does not exist
  void sent.data?.sequence;

  const me = await api.api.v1.auth.me.get();
  const bot: boolean | undefined = me.data?.is_bot;
  void bot;

  const socket = createChatClient({ baseUrl: "http://localhost:8000" }).socket();
  socket.on("new_message", (frame: SocketEvents["new_message"]) => void frame.message.seq);
  // @ts-expect-error an event that does not exist
  socket.on("new_mesage", () => {});
  // @ts-expect-error a send without content
  void socket.send({ conversation_id: "x" });
  socket.close();
}
