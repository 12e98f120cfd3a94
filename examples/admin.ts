/**
 * Administration: topics, configs, partitions, consumer groups.
 *
 *   RIVVEN_BOOTSTRAP=127.0.0.1:9092 node .examples-build/examples/admin.js
 */
import { firstValueFrom } from 'rxjs';
import { Client, ServerError } from 'rivven-rx';

const address = process.env.RIVVEN_BOOTSTRAP ?? '127.0.0.1:9092';

async function main(): Promise<void> {
  const client = await firstValueFrom(Client.connect$({ bootstrapServers: address, clientId: 'admin-example' }));
  const topic = `admin-${Date.now()}`;
  const group = `${topic}-group`;

  await firstValueFrom(client.createTopic$(topic, 2));
  console.log(`topics: ${(await firstValueFrom(client.listTopics$())).filter((t) => t.startsWith('admin-')).join(', ')}`);

  // Configs: set retention to one hour, then read it back.
  const changed = await firstValueFrom(client.alterTopicConfig$(topic, { 'retention.ms': '3600000' }));
  const [description] = await firstValueFrom(client.describeTopicConfigs$([topic]));
  console.log(`changed ${changed} config(s); retention.ms = ${description?.configs.get('retention.ms')?.value}`);

  // Partitions: grow from 2 to 4.
  const partitions = await firstValueFrom(client.createPartitions$(topic, 4));
  console.log(`${topic} now has ${partitions} partitions`);

  // Groups: commit an offset for a group, then describe and delete it.
  await firstValueFrom(client.publishBatch$(topic, [{ value: 'a' }, { value: 'b' }], { partition: 0 }));
  await firstValueFrom(client.commitOffset$(group, topic, 0, 2n), { defaultValue: undefined });
  const described = await firstValueFrom(client.describeGroup$(group));
  console.log(`group ${described.group} committed offset ${described.offsets.get(topic)?.get(0)} on ${topic}/0`);
  await firstValueFrom(client.deleteGroup$(group), { defaultValue: undefined });

  // Errors are typed: the broker's code and whether retrying could help.
  try {
    await firstValueFrom(client.createTopic$(topic, 1));
  } catch (error) {
    if (error instanceof ServerError) console.log(`expected refusal: ${error.serverCode ?? 'error'} (retriable: ${error.retriable})`);
    else throw error;
  }

  await firstValueFrom(client.deleteTopic$(topic), { defaultValue: undefined });
  await client.close();
  console.log('done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
