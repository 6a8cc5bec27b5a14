import {
  ApplicationCommandType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  SlashCommandBuilder,
  type RESTPostAPIApplicationCommandsJSONBody,
} from "discord.js";
import { MAX_CAPTION_CHARS, SETTING_KEYS } from "../../core/index.ts";
import { MAX_CLUSTER_CODE_POINTS } from "../../pipeline/render/text.ts";

/**
 * Discord counts an option's length in code points; the caption limit is in user-perceived characters
 * (a Hindi or accented letter is several code points). The option only stops what can never pass; the
 * core's caption rule, the same on every entrance, gives the answer.
 */
const CAPTION_OPTION_MAX = MAX_CAPTION_CHARS * MAX_CLUSTER_CODE_POINTS;

/**
 * The one definition of Mimic's Discord commands: `mimic register` deploys exactly this list and the
 * bot's handler dispatches on the same names, so the two cannot drift apart.
 */
export const COMMAND = {
  meme: "meme",
  morph: "morph",
  face: "face",
  mimic: "mimic",
  mimicThis: "Mimic this",
} as const;

const contexts = [InteractionContextType.Guild, InteractionContextType.BotDM];

const meme = new SlashCommandBuilder()
  .setName(COMMAND.meme)
  .setDescription("Put a reaction's expression on your saved face, with optional captions")
  .setContexts(contexts)
  .addAttachmentOption((o) => o.setName("image").setDescription("Reaction image or GIF (default: the latest image in this channel)"))
  .addStringOption((o) => o.setName("top").setDescription("Top caption").setMaxLength(CAPTION_OPTION_MAX))
  .addStringOption((o) => o.setName("bottom").setDescription("Bottom caption").setMaxLength(CAPTION_OPTION_MAX))
  .addStringOption((o) => o.setName("template").setDescription("Which of your saved faces (default: your default face)").setAutocomplete(true))
  .addIntegerOption((o) => o.setName("intensity").setDescription("How much of the expression, in % (default 100)").setMinValue(0).setMaxValue(100))
  .addStringOption((o) =>
    o
      .setName("mode")
      .setDescription("mimic: copy the expression onto your face; swap: put your face into the image")
      .addChoices({ name: "mimic", value: "mimic" }, { name: "swap", value: "swap" }),
  )
  .addBooleanOption((o) => o.setName("animated").setDescription("Animated GIF output (default: animated for GIF reactions)"));

const morph = new SlashCommandBuilder()
  .setName(COMMAND.morph)
  .setDescription("An animated GIF morphing your face into the reaction's expression")
  .setContexts(contexts)
  .addAttachmentOption((o) => o.setName("image").setDescription("Reaction image (default: the latest image in this channel)"))
  .addStringOption((o) => o.setName("template").setDescription("Which of your saved faces").setAutocomplete(true))
  .addStringOption((o) => o.setName("top").setDescription("Top caption").setMaxLength(CAPTION_OPTION_MAX))
  .addStringOption((o) => o.setName("bottom").setDescription("Bottom caption").setMaxLength(CAPTION_OPTION_MAX));

const templateName = (o: import("discord.js").SlashCommandStringOption, description: string) =>
  o.setName("name").setDescription(description).setRequired(true).setAutocomplete(true);

const face = new SlashCommandBuilder()
  .setName(COMMAND.face)
  .setDescription("Manage your saved faces")
  .setContexts(contexts)
  .addSubcommand((s) =>
    s
      .setName("save")
      .setDescription("Save a clear, front-facing photo of your face")
      .addAttachmentOption((o) => o.setName("photo").setDescription("A photo of your face").setRequired(true))
      .addStringOption((o) => o.setName("name").setDescription("A name for this face, e.g. me").setRequired(true).setMaxLength(32)),
  )
  .addSubcommand((s) => s.setName("list").setDescription("List your saved faces"))
  .addSubcommand((s) => s.setName("delete").setDescription("Delete a saved face").addStringOption((o) => templateName(o, "Face to delete")))
  .addSubcommand((s) =>
    s.setName("default").setDescription("Choose your default face").addStringOption((o) => templateName(o, "Face to use by default")),
  )
  .addSubcommand((s) =>
    s
      .setName("rename")
      .setDescription("Rename a saved face")
      .addStringOption((o) => templateName(o, "Face to rename"))
      .addStringOption((o) => o.setName("new_name").setDescription("Its new name").setRequired(true).setMaxLength(32)),
  );

const mimic = new SlashCommandBuilder()
  .setName(COMMAND.mimic)
  .setDescription("Mimic: usage, settings, your data")
  .setContexts(contexts)
  .addSubcommand((s) => s.setName("usage").setDescription("Your usage today (admins also see the server's)"))
  .addSubcommand((s) =>
    s
      .setName("config")
      .setDescription("Show or change this server's Mimic settings (Manage Server)")
      .addStringOption((o) =>
        o
          .setName("setting")
          .setDescription("Setting to change (leave empty to show all)")
          .addChoices(...SETTING_KEYS.map((k) => ({ name: k, value: k }))),
      )
      .addStringOption((o) => o.setName("value").setDescription("New value, e.g. on/off, 20, add <channel id>")),
  )
  .addSubcommand((s) =>
    s
      .setName("audit")
      .setDescription("Who made this picture? Attach it, or give its SHA-256 (Manage Server)")
      // The longest form the core reads: "sha-256:" and the 64 hex characters.
      .addStringOption((o) => o.setName("hash").setDescription("Or the picture's SHA-256: 64 hex characters").setMinLength(64).setMaxLength(72))
      .addAttachmentOption((o) => o.setName("picture").setDescription("The picture itself, as Mimic sent it")),
  )
  .addSubcommand((s) =>
    s
      .setName("forget")
      .setDescription("Delete all your saved faces and usage history")
      .addBooleanOption((o) => o.setName("confirm").setDescription("Yes, delete everything").setRequired(true)),
  );

const mimicThis = new ContextMenuCommandBuilder()
  .setName(COMMAND.mimicThis)
  .setType(ApplicationCommandType.Message)
  .setContexts(contexts);

/** JSON bodies for PUT /applications/{app}[/guilds/{guild}]/commands. */
export function commandDefinitions(): RESTPostAPIApplicationCommandsJSONBody[] {
  return [meme.toJSON(), morph.toJSON(), face.toJSON(), mimic.toJSON(), mimicThis.toJSON()];
}
