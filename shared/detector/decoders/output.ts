/** A model output as the decoders see it: its name, shape and values, read off the tensor once. */
export interface RawOutput {
  name: string;
  shape: number[];
  data: ArrayLike<number>;
}

/** Why a model's outputs do not fit its manifest; the detector refuses the model with this message. */
export class ModelMismatchError extends Error {
  override name = 'ModelMismatchError';
}

/** The output named `name`, or the one `pick` chooses among all of them. */
export function outputNamed(
  outputs: RawOutput[],
  name: string | undefined,
  what: string,
  pick?: (o: RawOutput) => boolean,
): RawOutput {
  const found = name
    ? outputs.find((o) => o.name === name || o.name === `${name}:0` || o.name.replace(/:0$/, '') === name)
    : pick
      ? outputs.find(pick)
      : outputs[0];
  if (!found) {
    throw new ModelMismatchError(
      `the model has no ${what} output${name ? ` named "${name}"` : ''} (outputs: ${outputs.map((o) => `${o.name} [${o.shape.join(', ')}]`).join('; ')})`,
    );
  }
  return found;
}
