-- One database per service (DESIGN §2). The image creates colony_users and the colony account from its
-- environment; the other services' databases are created here, on the first start of an empty volume.
CREATE DATABASE IF NOT EXISTS colony_chat CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_chat.* TO 'colony'@'%';
CREATE DATABASE IF NOT EXISTS colony_knowledge CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_knowledge.* TO 'colony'@'%';
CREATE DATABASE IF NOT EXISTS colony_tasks CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_tasks.* TO 'colony'@'%';
CREATE DATABASE IF NOT EXISTS colony_notifications CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON colony_notifications.* TO 'colony'@'%';
